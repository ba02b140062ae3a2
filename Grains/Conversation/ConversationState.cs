using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using ChatGrains.Storage;

namespace ChatGrains.Conversation;

/// <summary>
/// A conversation's state in memory, and the change being built against it. Every mutation
/// goes through here: it assigns the next event id, serializes the event once, and records
/// the rows that the next commit must store. The grain commits <see cref="TakeCommit"/>
/// before publishing; if that commit fails the activation is discarded, so state that was
/// never stored is never seen.
/// In a long conversation it holds a window of the messages, not all of them: every message
/// created at or after <see cref="WindowStart"/>, every open reply and its prompt, the head, and
/// whatever <see cref="MessageWindow"/> brought back from the store for the turn at hand;
/// <see cref="Trim"/> lets the rest go once their rows are stored.
/// </summary>
public sealed class ConversationState
{
    private readonly Dictionary<string, StoredMessage> _messages = [];
    // Event order: the created event id, then the id (ties only in hand-made data).
    private readonly SortedSet<(long EventId, string Id)> _order = new(Comparer<(long EventId, string Id)>.Create(
        (a, b) => a.EventId != b.EventId ? a.EventId.CompareTo(b.EventId) : string.CompareOrdinal(a.Id, b.Id)));
    private readonly Dictionary<(string UserId, string Key), IdempotencyRecord> _keys = [];
    // The keys in the order they were stored, so the oldest leave first.
    private readonly Queue<IdempotencyRecord> _keyOrder = [];
    // The text of each reply still streaming. Its message is an immutable record: rebuilding it
    // for every delta would copy the whole reply each time (quadratic in its length), so the
    // text grows here and a reader gets the message brought up to date (see Current).
    private readonly Dictionary<string, StringBuilder> _streamingText = [];
    private Pending _pending = new();

    private ConversationState(ConversationInfo info) => Info = info;

    public ConversationInfo Info { get; private set; }

    /// <summary>The members, their roles and the invites, with the rules of who may do what.</summary>
    public Membership People { get; } = new();

    /// <summary>Parents, children and the shared head.</summary>
    public MessageTree Tree { get; } = new();

    /// <summary>Set once the conversation is deleted: it then answers NotFound to everyone.</summary>
    public bool Deleted { get; private set; }
    public long LastEventId { get; private set; }
    public DateTimeOffset LastActivityAt { get; private set; }
    public long FirstStoredEventId { get; private set; } = 1;

    /// <summary>Every message created at or after this event id is held (0: every message is).</summary>
    public long WindowStart { get; private set; }

    /// <summary>The created event id of the conversation's first message (0 while it has none).</summary>
    public long FirstMessageEventId { get; private set; }

    /// <summary>
    /// False once an idempotency key still within its retention is no longer held (the load left
    /// it out, or <see cref="AddKey"/> let it go): then a key not held may still be in the store.
    /// </summary>
    public bool HoldsAllRecentKeys { get; private set; } = true;

    /// <summary>What this state holds in memory (an operator diagnostic).</summary>
    public ConversationFootprint Footprint => new(_messages.Count, Tree.Count, _keys.Count);

    /// <summary>The messages held, in event order.</summary>
    public IEnumerable<StoredMessage> Messages => _order.Select(k => Current(_messages[k.Id]));
    public IEnumerable<Member> Members => People.Members;

    public static ConversationState New(ConversationInfo info, Caller owner)
    {
        var state = new ConversationState(info) { LastActivityAt = info.CreatedAt };
        state._pending.Created = info;
        var member = new StoredMember(new Member(owner.UserId, owner.Name, MemberRoles.Owner), 0);
        state.People.Put(member);
        state._pending.Members.Add(member);
        return state;
    }

    /// <summary>
    /// The state as stored; <paramref name="window"/>: the number of latest messages the load
    /// asked for (see <see cref="LoadWindow"/>), null when it loaded them all.
    /// </summary>
    public static ConversationState Load(StoredConversation stored, int? window = null)
    {
        var state = new ConversationState(stored.Info)
        {
            LastEventId = stored.LastEventId,
            LastActivityAt = stored.LastActivityAt,
            FirstStoredEventId = stored.FirstStoredEventId,
            FirstMessageEventId = stored.FirstMessageEventId,
            HoldsAllRecentKeys = stored.AllRecentKeys,
        };
        foreach (var m in stored.Members) state.People.Put(m);
        foreach (var m in stored.Messages) state.Put(m, record: false, isNew: false);
        // The window is the latest N; older messages held besides them are open replies, their prompts, the head.
        if (window is { } n && stored.Messages.Count >= n) state.WindowStart = stored.Messages[^n].CreatedEventId;
        state.Tree.RestoreHead(stored.Head);
        foreach (var i in stored.Invites) state.People.PutInvite(i);
        foreach (var k in stored.IdempotencyKeys) state.HoldKey(k);
        return state;
    }

    /// <summary>Holds a message read from the store for this turn (a final one, or one held already).</summary>
    public void Hold(StoredMessage message)
    {
        if (!_messages.ContainsKey(message.Message.Id)) Put(message, record: false, isNew: false);
    }

    /// <summary>
    /// Lets go of the messages the grain does not need: all but the latest <paramref name="keep"/>,
    /// except open replies and their prompts, the head and anything not yet committed. Called
    /// after a commit succeeded, so every message let go is final and its stored row current.
    /// </summary>
    public void Trim(int keep)
    {
        var excess = _order.Count - keep;
        if (excess <= 0) return;
        var pinned = new HashSet<string>(StringComparer.Ordinal);
        if (Tree.Head is { } head) pinned.Add(head);
        foreach (var reply in OpenReplies)
        {
            pinned.Add(reply.Message.Id);
            if (reply.Message.ReplyTo is { } prompt) pinned.Add(prompt);
        }
        foreach (var (eventId, id) in _order.Take(excess).ToList())
        {
            if (pinned.Contains(id) || _pending.Messages.ContainsKey(id)) continue;
            _order.Remove((eventId, id));
            _messages.Remove(id);
            Tree.Remove(id);
            if (eventId >= WindowStart) WindowStart = eventId + 1;
        }
    }

    /// <summary>
    /// The held messages of the window created before event <paramref name="beforeEventId"/>, the
    /// latest <paramref name="max"/> of them, in event order.
    /// </summary>
    public List<StoredMessage> WindowBefore(long beforeEventId, int max)
    {
        var page = new List<StoredMessage>();
        if (beforeEventId <= WindowStart) return page;
        foreach (var (_, id) in _order.GetViewBetween((WindowStart, ""), (beforeEventId - 1, char.MaxValue.ToString())).Reverse())
        {
            if (page.Count == max) break;
            page.Add(Current(_messages[id]));
        }
        page.Reverse();
        return page;
    }

    /// <summary>
    /// A new conversation holding a copy of <paramref name="path"/> (first prompt first) with new
    /// ids from <paramref name="newId"/>: a <c>message.created</c> for each, authors as they were,
    /// the head at the copied last message. The owner's history starts after the copies, so none
    /// of them is unread.
    /// </summary>
    public static ConversationState Fork(ConversationInfo info, Caller owner, IReadOnlyList<Message> path, Func<string> newId)
    {
        var state = New(info, owner);
        var ids = new Dictionary<string, string>();
        foreach (var m in path)
        {
            var id = ids[m.Id] = newId();
            string? Mapped(string? old) => old is not null && ids.TryGetValue(old, out var n) ? n : null;
            state.AddMessage(m with { Id = id, ParentId = Mapped(MessageTree.ParentOf(m)), ReplyTo = Mapped(m.ReplyTo) });
        }
        if (path.Count > 0) state.MoveHead(ids[path[^1].Id], announce: false);
        var member = new StoredMember(new Member(owner.UserId, owner.Name, MemberRoles.Owner), state.LastEventId);
        state.People.Put(member);
        state._pending.Members.Clear();
        state._pending.Members.Add(member);
        return state;
    }

    /// <summary>
    /// Moves the shared head to an assistant message (see <see cref="MessageTree.MoveHead"/>) with a
    /// <c>conversation.head</c>, unless it is there already.
    /// </summary>
    public void MoveHead(string messageId, bool announce = true)
    {
        if (!Tree.MoveHead(messageId)) return;
        _pending.Head = messageId;
        if (announce) Emit(EventTypes.ConversationHead, new ConversationHeadData(messageId), ChatJson.Wire.ConversationHeadData);
    }

    /// <summary>
    /// The finished assistant message <paramref name="messageId"/>, to be <paramref name="done"/>
    /// (regenerated, forked): NotFound if unknown, BadRequest for a prompt, Conflict while it is open.
    /// </summary>
    public Message FinishedReply(string messageId, string done)
    {
        Tree.RequireReply(messageId, $"Only an assistant message can be {done}.");
        var message = FindMessage(messageId)!.Message;
        return MessageStatus.IsFinal(message.Status) ? message : throw ConversationException.Conflict($"Only a finished reply can be {done}.");
    }

    /// <summary>The messages from the first prompt down to <paramref name="messageId"/>, both included.</summary>
    public IReadOnlyList<Message> PathTo(string messageId) =>
        Tree.PathTo(messageId).Select(id => FindMessage(id)!.Message).ToList();

    /// <summary>
    /// Replay cannot go back past <paramref name="eventId"/> (an event that cannot be read back):
    /// the log is served from the next id on, as after pruning.
    /// </summary>
    public void StartReplayAfter(long eventId) => FirstStoredEventId = Math.Max(FirstStoredEventId, eventId + 1);

    public bool IsMember(string userId) => !Deleted && People.IsMember(userId);

    public StoredMessage? FindMessage(string id) => Stored(id) is { } m ? Current(m) : null;

    /// <summary>A held key stored at or after <paramref name="since"/> (older ones have expired).</summary>
    public IdempotencyRecord? FindKey(string userId, string key, DateTimeOffset since = default) =>
        _keys.GetValueOrDefault((userId, key)) is { } k && k.CreatedAt >= since ? k : null;

    /// <summary>Assistant messages not yet final, oldest first: the reply queue.</summary>
    public IEnumerable<StoredMessage> OpenReplies =>
        _order.Select(k => _messages[k.Id]).Where(m => m.Message.Role == Roles.Assistant && !MessageStatus.IsFinal(m.Message.Status));

    public ConversationEvent Emit<T>(string type, T data, JsonTypeInfo<T> json)
    {
        var e = ConversationEvent.Create(++LastEventId, type, data, json);
        _pending.Events.Add(e);
        return e;
    }

    /// <summary>
    /// Lets <paramref name="caller"/> in with an invite, counting one use; NotFound for an invite
    /// that cannot be used. A member joining again uses nothing and changes nothing.
    /// </summary>
    public void Join(Caller caller, string inviteToken, DateTimeOffset now)
    {
        var invite = People.UseInvite(inviteToken, now);
        if (People.IsMember(caller.UserId)) return;
        PutInvite(invite);
        var joined = Emit(EventTypes.MemberJoined, new MemberJoinedData(caller.UserId, caller.Name), ChatJson.Wire.MemberJoinedData);
        var member = new StoredMember(new Member(caller.UserId, caller.Name, MemberRoles.Member), joined.Id);
        People.Put(member);
        _pending.Members.Add(member);
    }

    /// <summary>Removes a member (see <see cref="Membership.CheckRemoval"/>); <c>member.left</c>.</summary>
    public void RemoveMember(string by, string userId)
    {
        var target = People.CheckRemoval(by, userId);
        People.Remove(userId);
        _pending.Members.RemoveAll(m => m.Member.UserId == userId);
        _pending.RemovedMembers.Add(userId);
        Emit(EventTypes.MemberLeft, new MemberLeftData(target.UserId, target.Name, by), ChatJson.Wire.MemberLeftData);
    }

    public void Rename(string title)
    {
        if (title == Info.Title) return;
        Info = Info with { Title = title };
        _pending.Title = title;
        Emit(EventTypes.ConversationUpdated, new ConversationUpdatedData(title), ChatJson.Wire.ConversationUpdatedData);
    }

    /// <summary>
    /// Ends the conversation: every open reply completes cancelled (the active one with the text
    /// it had), then <c>conversation.deleted</c>, the last event; the commit deletes every row.
    /// </summary>
    public void Delete()
    {
        foreach (var reply in OpenReplies.ToList()) CompleteMessage(reply.Message.Id, ReplyOutcome.Deleted);
        Emit(EventTypes.ConversationDeleted, new ConversationDeletedData(), ChatJson.Wire.ConversationDeletedData);
        Deleted = true;
        _pending.Delete = true;
    }

    /// <summary>
    /// Adds a message and publishes its <c>message.created</c>. <paramref name="requestedBy"/>: for a
    /// reply, the user its usage is charged to when it ends.
    /// </summary>
    public StoredMessage AddMessage(Message message, string? requestedBy = null)
    {
        var created = Emit(EventTypes.MessageCreated, new MessageCreatedData(message), ChatJson.Wire.MessageCreatedData);
        var stored = new StoredMessage(message, created.Id, 0, requestedBy);
        Put(stored, record: true);
        if (FirstMessageEventId == 0) FirstMessageEventId = created.Id;
        return stored;
    }

    public void AppendDelta(string messageId, string delta)
    {
        Emit(EventTypes.MessageDelta, new MessageDeltaData(messageId, delta), ChatJson.Wire.MessageDeltaData);
        if (!_streamingText.TryGetValue(messageId, out var text))
        {
            // The first delta makes a queued reply streaming. The row is rewritten only when
            // the reply completes, so a batch of tokens stores just its event.
            var stored = Stored(messageId) ?? throw new InvalidOperationException($"No message {messageId}");
            _streamingText[messageId] = text = new StringBuilder(stored.Message.Content);
            Put(stored with { Message = stored.Message with { Status = MessageStatus.Streaming } }, record: false);
        }
        text.Append(delta);
    }

    /// <summary>Restores a reply's text from its stored deltas after a restart (no event: they were published).</summary>
    public void RestoreContent(string messageId, string content)
    {
        var stored = Stored(messageId) ?? throw new InvalidOperationException($"No message {messageId}");
        _streamingText.Remove(messageId);
        Put(stored with { Message = stored.Message with { Content = content } }, record: false);
    }

    public void CompleteMessage(string messageId, ReplyOutcome outcome)
    {
        var current = FindMessage(messageId) ?? throw new InvalidOperationException($"No message {messageId}");
        _streamingText.Remove(messageId);
        var message = current.Message with { Status = outcome.Status, Error = outcome.Error, Usage = outcome.Usage };
        var completed = Emit(EventTypes.MessageCompleted,
            new MessageCompletedData(messageId, outcome.Status, message.Content, outcome.Error, outcome.Usage),
            ChatJson.Wire.MessageCompletedData);
        Put(current with { Message = message, CompletedEventId = completed.Id }, record: true);
        // Whatever its status: what the model saw and generated counts against who asked for it.
        if (current.RequestedBy is { } payer && outcome.Usage is { } usage) _pending.Charges.Add((messageId, payer, usage));
    }

    public Invite AddInvite(string createdBy, DateTimeOffset now, InviteTerms terms)
    {
        People.Require(createdBy);
        var invite = Membership.NewInvite(createdBy, now, terms);
        PutInvite(invite);
        return invite;
    }

    public void RevokeInvite(string by, string token) => PutInvite(People.CheckRevoke(by, token));

    private void PutInvite(Invite invite)
    {
        People.PutInvite(invite);
        _pending.Invites[invite.Token] = invite;
    }

    /// <summary>
    /// Stores a new key, holding at most <paramref name="held"/> (the oldest go first, and any
    /// stored before <paramref name="since"/>, which have expired).
    /// </summary>
    public void AddKey(IdempotencyRecord record, int held = int.MaxValue, DateTimeOffset since = default)
    {
        HoldKey(record);
        _pending.Keys.Add(record);
        while (_keyOrder.TryPeek(out var oldest) && (_keyOrder.Count > held || oldest.CreatedAt < since))
        {
            _keyOrder.Dequeue();
            if (_keys.GetValueOrDefault((oldest.UserId, oldest.Key)) == oldest) _keys.Remove((oldest.UserId, oldest.Key));
            if (oldest.CreatedAt >= since) HoldsAllRecentKeys = false;
        }
    }

    private void HoldKey(IdempotencyRecord record)
    {
        _keys[(record.UserId, record.Key)] = record;
        _keyOrder.Enqueue(record);
    }

    public static string HashContent(string content) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    /// <summary>
    /// What an idempotency key remembers of its request, so that the same key for a different
    /// request is refused. A prompt at the head hashes its content alone, as before the tree
    /// (keys stored then still match their retries); one with a parent, and a regenerate, hash
    /// what names them too. Keys of prompts and regenerates share one namespace.
    /// </summary>
    public static string PromptHash(string content, PromptParent? parent) => parent is null
        ? HashContent(content)
        : HashContent($"{content}\0parent:{parent.MessageId ?? "(root)"}");

    public static string RegenerateHash(string messageId) => HashContent($"\0regenerate:{messageId}");

    /// <summary>
    /// The change built since the last call, as one atomic commit; null if nothing changed.
    /// Also decides retention: events older than both the retained window and the oldest
    /// open exchange may go.
    /// </summary>
    public ConversationCommit? TakeCommit(DateTimeOffset now, int retainedEvents, DateTimeOffset? keysExpireBefore = null)
    {
        var p = _pending;
        _pending = new Pending();
        if (p.Created is null && p.Events.Count == 0 && p.Members.Count == 0 && p.Messages.Count == 0 && p.Invites.Count == 0 && p.Keys.Count == 0 && p.Head is null)
            return null;
        if (p.Events.Count > 0) LastActivityAt = now;

        long prune = 0;
        var keepFrom = LastEventId - retainedEvents + 1;
        // Pruning is done in steps of a tenth of the window, not on every commit.
        if (keepFrom - FirstStoredEventId > retainedEvents / 10)
        {
            var oldestOpen = OpenReplies.Select(r => ExchangeStart(r)).DefaultIfEmpty(long.MaxValue).Min();
            prune = Math.Min(keepFrom, oldestOpen);
            if (prune > FirstStoredEventId) FirstStoredEventId = prune; else prune = 0;
        }

        // A reply is charged on the UTC day its completion is committed.
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        return new ConversationCommit(Info.Id, p.Created, p.Events, p.Members, p.Messages.Values.ToList(),
            p.Invites.Values.ToList(), p.Keys, LastEventId, LastActivityAt, p.Delete ? 0 : prune,
            p.Title, p.RemovedMembers, p.Delete, p.Head,
            [.. p.Charges.Select(c => new UsageCharge(c.ReplyId, c.UserId, day, Info.Id, c.Usage))],
            // Expired keys leave the store whenever a new one is stored.
            p.Keys.Count > 0 ? keysExpireBefore : null);
    }

    /// <summary>The first event of the exchange a reply belongs to: its prompt's creation.</summary>
    public long ExchangeStart(StoredMessage reply) =>
        reply.Message.ReplyTo is { } prompt && Stored(prompt) is { } p ? p.CreatedEventId : reply.CreatedEventId;

    /// <summary>The snapshot with <paramref name="messages"/> (null: every message held).</summary>
    public ConversationSnapshot ToSnapshot(IReadOnlyList<Message>? messages = null, bool hasMore = false) => new(
        Info.Id, Info.Title, Info.OwnerId, Info.CreatedAt,
        People.Members.ToList(), messages ?? Messages.Select(m => m.Message).ToList(), LastEventId, Tree.Head, hasMore);

    private StoredMessage? Stored(string id) => _messages.GetValueOrDefault(id);

    /// <summary>A message with the text it has streamed so far.</summary>
    private StoredMessage Current(StoredMessage m) =>
        _streamingText.TryGetValue(m.Message.Id, out var text) ? m with { Message = m.Message with { Content = text.ToString() } } : m;

    private void Put(StoredMessage message, bool record, bool isNew = true)
    {
        if (!_messages.ContainsKey(message.Message.Id))
        {
            _order.Add((message.CreatedEventId, message.Message.Id));
            Tree.Add(message.Message, message.CreatedEventId, isNew);
        }
        _messages[message.Message.Id] = message;
        if (record || _pending.Messages.ContainsKey(message.Message.Id)) _pending.Messages[message.Message.Id] = message;
    }

    private sealed class Pending
    {
        public ConversationInfo? Created;
        public readonly List<ConversationEvent> Events = [];
        public readonly List<StoredMember> Members = [];
        public readonly List<string> RemovedMembers = [];
        public readonly Dictionary<string, StoredMessage> Messages = [];
        public readonly Dictionary<string, Invite> Invites = [];
        public readonly List<IdempotencyRecord> Keys = [];
        public readonly List<(string ReplyId, string UserId, Usage Usage)> Charges = [];
        public string? Title;
        public string? Head;
        public bool Delete;
    }
}
