using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Presence;

/// <summary>
/// One watch stream's part in presence: it counts its caller online on this host until
/// disposed, and chooses which presence frames the stream writes. The first is the first that
/// lists the caller (so a stream never starts with a list from before its own arrival); after
/// that every change, but never the same list twice in a row.
/// </summary>
public sealed class WatcherPresence(PresenceReporter reporter, string conversationId, Caller caller) : IDisposable
{
    private byte[]? _lastWritten;
    private int _disposed;

    public bool Admits(Frame frame)
    {
        if (frame.Online is not { } online) return true; // typing
        if (_lastWritten is null && !online.Contains(caller.UserId)) return false;
        if (_lastWritten is not null && _lastWritten.AsSpan().SequenceEqual(frame.Bytes)) return false;
        _lastWritten = frame.Bytes;
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) reporter.Leave(conversationId, caller);
    }
}
