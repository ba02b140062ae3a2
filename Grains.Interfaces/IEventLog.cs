namespace ChatGrains;

/// <summary>
/// A numbered event log that API hosts replay and backfill from: a conversation's, or a user's
/// own. Ids are consecutive from 1 and never reused; what travels on the log's Orleans stream is
/// the fast path, and this is the truth behind it.
/// </summary>
public interface IEventLog : IGrain
{
    /// <summary>
    /// Events with ids greater than <paramref name="afterId"/>, oldest first, at most
    /// <paramref name="max"/>. The caller checked the reader's right to the log when it attached.
    /// </summary>
    Task<EventPage> ReadEventsAsync(long afterId, int max);
}
