namespace ChatGrains.Conversation;

/// <summary>
/// The shape of a conversation's messages: each message's parent and children, and the shared
/// head (the assistant message that ends the thread everyone sees). It decides where a new
/// message goes and refuses what cannot be (a <see cref="ConversationException"/> that changes
/// nothing); <see cref="ConversationState"/> turns what it allows into events and rows.
/// Children are kept in creation order, so a message's position among its siblings never
/// changes once it has one.
/// In a long conversation the tree holds only the messages the grain holds (see
/// <see cref="MessageWindow"/>): a path may stop at a parent that is not held, and a node knows
/// whether it holds all its children (<see cref="SiblingPosition"/> is null when it may not).
/// </summary>
public sealed class MessageTree
{
    private readonly Dictionary<string, Node> _nodes = [];
    private readonly List<string> _roots = [];
    // Held messages whose parent is not held, by that parent: its children again if it comes back.
    private readonly Dictionary<string, List<string>> _orphans = [];

    /// <summary>The head: an assistant message, or null while the conversation has none.</summary>
    public string? Head { get; private set; }

    public bool Contains(string messageId) => _nodes.ContainsKey(messageId);

    /// <summary>How many messages the tree holds.</summary>
    public int Count => _nodes.Count;

    /// <summary>
    /// Records a message under its parent. An assistant message's parent is the prompt it
    /// replies to (older callers may name it only as <see cref="Message.ReplyTo"/>).
    /// <paramref name="order"/>: its created event id (children are kept in that order; -1 adds it
    /// last). <paramref name="isNew"/>: created just now, so every child it will have is added after it.
    /// </summary>
    public void Add(Message message, long order = -1, bool isNew = true)
    {
        if (_nodes.ContainsKey(message.Id)) return;
        var parent = ParentOf(message);
        var node = _nodes[message.Id] = new Node(message.Id, parent, message.Role, order < 0 ? ++_added : order) { ChildrenComplete = isNew };
        if (parent is null) Insert(_roots, node);
        else if (_nodes.TryGetValue(parent, out var p)) Insert(p.Children, node);
        else if (_orphans.TryGetValue(parent, out var waiting)) waiting.Add(message.Id);
        else _orphans[parent] = [message.Id];
        // Brought back after its children (read from the store): they are its children again.
        if (_orphans.Remove(message.Id, out var children))
        {
            foreach (var child in children.OrderBy(c => _nodes[c].Order)) node.Children.Add(child);
        }
    }

    /// <summary>Forgets a message the grain no longer holds; its parent no longer knows all its children.</summary>
    public void Remove(string messageId)
    {
        if (!_nodes.Remove(messageId, out var node)) return;
        if (node.Children.Count > 0) _orphans[messageId] = [.. node.Children];
        if (node.ParentId is null) _roots.Remove(messageId);
        else if (_nodes.TryGetValue(node.ParentId, out var parent))
        {
            parent.Children.Remove(messageId);
            parent.ChildrenComplete = false;
        }
        else if (_orphans.TryGetValue(node.ParentId, out var waiting) && waiting.Remove(messageId) && waiting.Count == 0)
        {
            _orphans.Remove(node.ParentId);
        }
    }

    public static string? ParentOf(Message message) =>
        message.ParentId ?? (message.Role == Roles.Assistant ? message.ReplyTo : null);

    public string? Parent(string messageId) => _nodes.TryGetValue(messageId, out var n) ? n.ParentId : null;

    /// <summary>The messages that follow <paramref name="parentId"/> (the first prompts for null), oldest first.</summary>
    public IReadOnlyList<string> Children(string? parentId) =>
        parentId is null ? _roots : _nodes.TryGetValue(parentId, out var n) ? n.Children : [];

    /// <summary>The ids from the first prompt down to <paramref name="messageId"/>, both included.</summary>
    public IReadOnlyList<string> PathTo(string messageId)
    {
        var path = new List<string>();
        for (var id = messageId; id is not null && _nodes.TryGetValue(id, out var node); id = node.ParentId) path.Add(id);
        path.Reverse();
        return path;
    }

    /// <summary>
    /// How many replies to the same prompt came before <paramref name="messageId"/>: 0 for the
    /// first answer, 1 for the first regenerate, and so on; null when the tree may not hold them all.
    /// </summary>
    public int? SiblingPosition(string messageId)
    {
        var parent = Parent(messageId);
        if (parent is not null && (!_nodes.TryGetValue(parent, out var p) || !p.ChildrenComplete)) return null;
        var siblings = Children(parent);
        var position = 0;
        foreach (var id in siblings)
        {
            if (id == messageId) return position;
            if (_nodes[id].Role == Roles.Assistant) position++;
        }
        return position;
    }

    /// <summary>
    /// The parent of a new prompt: the head when <paramref name="requested"/> is null, none for
    /// <see cref="PromptParent.Root"/>, else the named message, which must be an assistant message.
    /// </summary>
    public string? ParentForPrompt(PromptParent? requested)
    {
        if (requested is null) return Head;
        if (requested.MessageId is not { } id) return null;
        return RequireAssistant(id, "A prompt follows an assistant message, not a prompt.").Id;
    }

    /// <summary>The assistant message <paramref name="messageId"/>: NotFound if unknown, BadRequest for a prompt.</summary>
    public string RequireReply(string messageId, string refusal) => RequireAssistant(messageId, refusal).Id;

    /// <summary>Moves the head; false when it is there already (nothing to announce).</summary>
    public bool MoveHead(string messageId)
    {
        if (Head == messageId) return false;
        RequireAssistant(messageId, "The head is an assistant message.");
        Head = messageId;
        return true;
    }

    /// <summary>Sets the head as it was stored (no checks: the store holds only heads that were allowed).</summary>
    public void RestoreHead(string? messageId) => Head = messageId is not null && _nodes.ContainsKey(messageId) ? messageId : Head;

    private Node RequireAssistant(string messageId, string refusal)
    {
        if (!_nodes.TryGetValue(messageId, out var node)) throw ConversationException.NotFound("The message");
        return node.Role == Roles.Assistant ? node : throw ConversationException.BadRequest(refusal);
    }

    private void Insert(List<string> children, Node node)
    {
        var at = children.Count;
        while (at > 0 && _nodes[children[at - 1]].Order > node.Order) at--;
        children.Insert(at, node.Id);
    }

    private long _added;

    private sealed record Node(string Id, string? ParentId, string Role, long Order)
    {
        public List<string> Children { get; } = [];
        public bool ChildrenComplete { get; set; }
    }
}
