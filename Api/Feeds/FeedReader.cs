using System.Runtime.CompilerServices;
using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Feeds;

/// <summary>What to write to a connection next, then flush; <see cref="Live"/> once the replay from the resume point is done.</summary>
public readonly record struct FrameBatch(IReadOnlyList<Frame> Frames, bool Live);

/// <summary>
/// One connection's reading of a log (opened by <see cref="FeedHub.OpenAsync"/>): first what
/// its client missed since its resume point (from the host's feed, or read from the grain),
/// then live events from the feed's watcher queue, each id exactly once and in order, until the
/// stream's end. The batches it yields are final: the writer writes them as they are.
/// A stream ends after its viewer's own <c>member.left</c>, after <c>conversation.deleted</c>, when
/// the log turns out to be gone, after a <c>reset</c>, and — for a POST's stream — after its
/// reply's <c>message.completed</c> (unless the deletion cancelled it: then after the deletion).
/// </summary>
public sealed class FeedReader : IDisposable
{
    private const int Page = 1000;
    private static readonly TimeSpan ReadRetryDelay = TimeSpan.FromSeconds(1);
    private readonly Frame? _reset;
    private readonly FeedHub.FeedLease? _lease;
    private readonly Watcher? _watcher;
    private readonly IEventLog? _log;
    private readonly HeartbeatScheduler? _heartbeats;
    private readonly FeedMetrics? _metrics;
    private readonly string? _viewerId;
    private readonly string? _endAfterReplyId;
    private readonly long _backfillTo;
    private long _position;
    private bool _live;
    private bool _ended;

    /// <summary>A stream that only tells its client to reload its snapshot.</summary>
    internal FeedReader(Frame reset) => _reset = reset;

    internal FeedReader(FeedHub.FeedLease lease, IEventLog log, long? after, FeedOptions options, HeartbeatScheduler heartbeats, FeedMetrics metrics,
        string? viewerId, string? endAfterReplyId, Action disconnect)
    {
        (_lease, _log, _heartbeats, _metrics, _viewerId, _endAfterReplyId) = (lease, log, heartbeats, metrics, viewerId, endAfterReplyId);
        _watcher = new Watcher(options.WatcherBuffer, disconnect);
        var attachment = lease.Feed.Attach(_watcher, after);
        metrics.WatcherAttached();
        heartbeats.Add(_watcher);
        (_position, _backfillTo) = (attachment.Position, attachment.BackfillTo);
    }

    /// <summary>The batches to write, in order; the sequence ends with the stream.</summary>
    public async IAsyncEnumerable<FrameBatch> ReadAsync([EnumeratorCancellation] CancellationToken cancellation)
    {
        if (_reset is not null)
        {
            yield return new FrameBatch([_reset], false);
            yield break;
        }
        if (_backfillTo > _position)
        {
            await foreach (var batch in ReplayAsync(_backfillTo, cancellation)) yield return batch;
            if (_ended) yield break;
        }
        _live = true;
        var frames = _watcher!.Frames;
        while (true)
        {
            var batch = new List<Frame>();
            while (frames.TryRead(out var frame))
            {
                if (!frame.IsEphemeral && frame.Id != 0)
                {
                    if (frame.Id <= _position) continue; // already sent by the replay
                    if (frame.Id > _position + 1)
                    {
                        if (batch.Count > 0) yield return new FrameBatch(batch, true);
                        batch = [];
                        await foreach (var replayed in ReplayAsync(frame.Id - 1, cancellation)) yield return replayed;
                        if (_ended) yield break;
                        if (frame.Id <= _position) continue;
                    }
                    _position = frame.Id;
                }
                batch.Add(frame);
                if (!frame.IsEphemeral && Ends(frame))
                {
                    yield return new FrameBatch(batch, true);
                    yield break;
                }
            }
            // Everything queued is written, then flushed once: the cost is per flush, not per event.
            yield return new FrameBatch(batch, true);
            if (!await frames.WaitToReadAsync(cancellation)) yield break;
        }
    }

    /// <summary>The writer flushed what it was given (heartbeats are timed from here).</summary>
    public void Written() => _watcher?.MarkWritten();

    private bool Ends(Frame frame) =>
        frame.EndsStreamOf(_viewerId)
        || (_endAfterReplyId is not null && frame.CompletedMessageId == _endAfterReplyId && !frame.CompletedByDelete);

    /// <summary>
    /// The events after the current position up to <paramref name="upTo"/>, read from the grain,
    /// a batch per page. Sets <see cref="_ended"/> when the stream has ended: its reply completed,
    /// it had to be reset, or the log is gone (then the last events the grain still had come first).
    /// </summary>
    private async IAsyncEnumerable<FrameBatch> ReplayAsync(long upTo, [EnumeratorCancellation] CancellationToken cancellation)
    {
        while (_position < upTo)
        {
            var page = await TryReadAsync();
            if (page is null)
            {
                // The store or the cluster is away: the client keeps its stream, with a
                // keep-alive each second, until the read succeeds or the client leaves.
                yield return new FrameBatch([Frame.Heartbeat], _live);
                await Task.Delay(ReadRetryDelay, cancellation);
                continue;
            }
            if (page.Gone)
            {
                _ended = true;
                yield return new FrameBatch(page.Events.Where(e => e.Id > _position).Select(e => Frame.From(e)).ToList(), _live);
                yield break;
            }
            if (ResetRule.ResetFor(_position, page) is { } reset)
            {
                _ended = true;
                yield return new FrameBatch([reset], _live);
                yield break;
            }
            if (page.Events.Count == 0) yield break;
            var batch = new List<Frame>(page.Events.Count);
            foreach (var e in page.Events)
            {
                var frame = Frame.From(e);
                _position = e.Id;
                batch.Add(frame);
                if (Ends(frame))
                {
                    _ended = true;
                    break;
                }
            }
            yield return new FrameBatch(batch, _live);
            if (_ended) yield break;
        }
    }

    private async Task<EventPage?> TryReadAsync()
    {
        try
        {
            return await _log!.ReadEventsAsync(_position, Page);
        }
        catch (Exception e) when (PassingTrouble.Is(e))
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (_watcher is null) return;
        if (_watcher.Overflowed) _metrics!.WatcherCutOff();
        _heartbeats!.Remove(_watcher);
        _lease!.Feed.Detach(_watcher);
        _metrics!.WatcherDetached();
        _lease.Dispose();
    }
}
