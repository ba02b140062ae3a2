using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// The one place that decides <c>reset</c>: a reader whose client has every event up to a
/// position can go on only while the log has come that far and still holds the events after it
/// (the contract's "a resume point outside that gets reset"). Otherwise it gets a reset to the
/// log's last id, and reloads its snapshot. Asked when a stream opens (with the head its request
/// was checked against), for each page a connection replays from the grain, and for each page a
/// feed backfills.
/// </summary>
public static class ResetRule
{
    /// <summary>When a stream opens: a resume point past the log's last event (how far back the log goes shows on its first read).</summary>
    public static Frame? ResetFor(long? position, long lastEventId) => position > lastEventId ? Frame.Reset(lastEventId) : null;

    /// <summary>Reading <paramref name="page"/> of the log after <paramref name="position"/>.</summary>
    public static Frame? ResetFor(long position, EventPage page) => page.CanResumeFrom(position) ? null : Frame.Reset(page.LastEventId);
}
