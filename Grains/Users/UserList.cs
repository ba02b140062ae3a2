namespace ChatGrains.Users;

/// <summary>
/// A user's list as their stream has described it, and the changes that bring it to the truth.
/// <c>conversation.added</c> and <c>conversation.removed</c> go out at once; an update goes out
/// at once unless one was sent for that conversation less than the interval ago, in which case
/// the newest truth is held and sent when the interval is up (see <see cref="TakeDue"/>), so the
/// last change is never lost. No Orleans here: the grain feeds it and commits what it returns.
/// </summary>
public sealed class UserList(IEnumerable<ConversationListItem> listed, TimeSpan updateInterval)
{
    private readonly Dictionary<string, ConversationListItem> _listed = listed.ToDictionary(i => i.Id, StringComparer.Ordinal);
    private readonly Dictionary<string, ConversationListItem> _held = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastUpdate = new(StringComparer.Ordinal);

    /// <summary>The items as the stream last described them.</summary>
    public IEnumerable<ConversationListItem> Listed => _listed.Values;

    public bool Contains(string conversationId) => _listed.ContainsKey(conversationId);

    /// <summary>Whether updates are held back, waiting for their interval.</summary>
    public bool HasHeld => _held.Count > 0;

    /// <summary>
    /// The truth for one conversation: its item, or null when the user no longer has it
    /// (<paramref name="removal"/> says why). Adds the changes to send now to <paramref name="changes"/>.
    /// </summary>
    public void Observe(string conversationId, ConversationListItem? truth, string removal, DateTimeOffset now, List<UserChange> changes)
    {
        if (truth is null)
        {
            _held.Remove(conversationId);
            _lastUpdate.Remove(conversationId);
            if (_listed.Remove(conversationId)) changes.Add(UserChange.Removed(conversationId, removal));
            return;
        }
        if (!_listed.TryGetValue(conversationId, out var told))
        {
            _listed[conversationId] = truth;
            changes.Add(UserChange.Added(truth));
            return;
        }
        if (told == truth)
        {
            _held.Remove(conversationId); // changed and changed back before it was sent
            return;
        }
        if (_lastUpdate.TryGetValue(conversationId, out var last) && now - last < updateInterval)
        {
            _held[conversationId] = truth;
            return;
        }
        Update(truth, now, changes);
    }

    /// <summary>
    /// The whole truth, as the store lists it. Returns the conversations the stream has listed
    /// that the truth lacks: the caller finds out why each is gone (or that it is back) and
    /// passes that to <see cref="Observe"/>.
    /// </summary>
    public IReadOnlyList<string> Reconcile(IReadOnlyList<ConversationListItem> truth, DateTimeOffset now, List<UserChange> changes)
    {
        // Oldest activity first, so a client that applies the events in order and sorts by
        // activity ends up with the same order either way.
        foreach (var item in truth.Reverse()) Observe(item.Id, item, "", now, changes);
        var present = truth.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        return [.. _listed.Keys.Where(id => !present.Contains(id))];
    }

    /// <summary>The held updates whose interval is up.</summary>
    public void TakeDue(DateTimeOffset now, List<UserChange> changes)
    {
        foreach (var (id, truth) in _held.ToList())
        {
            if (_lastUpdate.TryGetValue(id, out var last) && now - last < updateInterval) continue;
            _held.Remove(id);
            Update(truth, now, changes);
        }
    }

    private void Update(ConversationListItem truth, DateTimeOffset now, List<UserChange> changes)
    {
        _held.Remove(truth.Id);
        _listed[truth.Id] = truth;
        _lastUpdate[truth.Id] = now;
        changes.Add(UserChange.Updated(truth));
    }
}

/// <summary>One event of the user's stream, before it is numbered.</summary>
public sealed record UserChange(string Type, string ConversationId, ConversationListItem? Item, string? Reason)
{
    public static UserChange Added(ConversationListItem item) => new(UserEventTypes.ConversationAdded, item.Id, item, null);

    public static UserChange Updated(ConversationListItem item) => new(UserEventTypes.ConversationUpdated, item.Id, item, null);

    public static UserChange Removed(string conversationId, string reason) => new(UserEventTypes.ConversationRemoved, conversationId, null, reason);

    /// <summary>The event's JSON, as the stream carries it.</summary>
    public string Data() => Item is { } item
        ? System.Text.Json.JsonSerializer.Serialize(item, ChatJson.Wire.ConversationListItem)
        : System.Text.Json.JsonSerializer.Serialize(new ConversationRemovedData(ConversationId, Reason!), ChatJson.Wire.ConversationRemovedData);
}
