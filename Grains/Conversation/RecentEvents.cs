namespace ChatGrains.Conversation;

/// <summary>
/// The latest events of a conversation, kept in memory so that resumes and backfills of
/// a live conversation are answered without touching the store. Older ones come from the store.
/// </summary>
public sealed class RecentEvents(int capacity)
{
    private readonly Queue<ConversationEvent> _events = new(capacity);

    public void Add(ConversationEvent e)
    {
        if (_events.Count == capacity) _events.Dequeue();
        _events.Enqueue(e);
    }

    /// <summary>True when every event after <paramref name="afterId"/> is held here.</summary>
    public bool Covers(long afterId) => _events.Count > 0 && _events.Peek().Id <= afterId + 1;

    public IReadOnlyList<ConversationEvent> After(long afterId, int max) =>
        _events.SkipWhile(e => e.Id <= afterId).Take(max).ToArray();
}
