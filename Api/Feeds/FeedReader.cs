using System.IO.Pipelines;
using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// Where a <see cref="FeedReader"/> puts a connection's frames: it writes them as they come and
/// flushes when told. It decides nothing about order, gaps or <c>reset</c>.
/// </summary>
public interface IFrameWriter
{
    /// <summary>The replay from the resume point is written: from here on the stream is live.</summary>
    void Live();

    void Write(Frame frame);

    ValueTask<FlushResult> FlushAsync(CancellationToken cancellation);

    /// <summary>What was written is flushed to the connection.</summary>
    void Flushed();
}

/// <summary>
/// One connection's reading of a log (opened by <see cref="FeedHub.OpenAsync"/>): first what
/// its client missed since its resume point (from the host's feed, or read from the grain),
/// then live events from the feed's watcher queue, each id exactly once and in order, until the
/// stream's end, handed to the connection's <see cref="IFrameWriter"/>.
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
    private readonly HeartbeatScheduler? _heartbeats;
    private readonly FeedMetrics? _metrics;
    private readonly string? _viewerId;
    private readonly string? _endAfterReplyId;
    private readonly long _backfillTo;
    private long _position;

    /// <summary>A stream that only tells its client to reload its snapshot.</summary>
    internal FeedReader(Frame reset) => _reset = reset;

    internal FeedReader(FeedHub.FeedLease lease, long? after, FeedOptions options, HeartbeatScheduler heartbeats, FeedMetrics metrics,
        string? viewerId, string? endAfterReplyId, Action disconnect)
    {
        (_lease, _heartbeats, _metrics, _viewerId, _endAfterReplyId) = (lease, heartbeats, metrics, viewerId, endAfterReplyId);
        _watcher = new Watcher(options.WatcherBuffer, disconnect);
        var attachment = lease.Feed.Attach(_watcher, after);
        metrics.WatcherAttached();
        heartbeats.Add(_watcher);
        (_position, _backfillTo) = (attachment.Position, attachment.BackfillTo);
    }

    /// <summary>
    /// Hands the stream to <paramref name="writer"/> until it ends. One loop per connection: each
    /// wake-up writes everything queued, then flushes once, so the cost is per flush, not per event.
    /// </summary>
    public async Task CopyToAsync(IFrameWriter writer, CancellationToken cancellation)
    {
        if (_reset is not null)
        {
            writer.Write(_reset);
            await FlushAsync(writer, cancellation);
            return;
        }
        if (_backfillTo > _position && !await ReplayAsync(_backfillTo, writer, cancellation)) return;
        writer.Live();
        var frames = _watcher!.Frames;
        while (true)
        {
            while (frames.TryRead(out var frame))
            {
                if (!frame.IsEphemeral && frame.Id != 0)
                {
                    if (frame.Id <= _position) continue; // already sent by the replay
                    if (frame.Id > _position + 1)
                    {
                        if (!await ReplayAsync(frame.Id - 1, writer, cancellation)) return;
                        if (frame.Id <= _position) continue;
                    }
                    _position = frame.Id;
                }
                writer.Write(frame);
                if (!frame.IsEphemeral && Ends(frame))
                {
                    await FlushAsync(writer, cancellation);
                    return;
                }
            }
            await FlushAsync(writer, cancellation);
            if (!await frames.WaitToReadAsync(cancellation)) return;
        }
    }

    private async ValueTask FlushAsync(IFrameWriter writer, CancellationToken cancellation)
    {
        await writer.FlushAsync(cancellation);
        writer.Flushed();
        _watcher?.MarkWritten(); // heartbeats are timed from here
    }

    private bool Ends(Frame frame) =>
        frame.EndsStreamOf(_viewerId)
        || (_endAfterReplyId is not null && frame.CompletedMessageId == _endAfterReplyId && !frame.CompletedByDelete);

    /// <summary>
    /// Writes the events after the current position up to <paramref name="upTo"/>, read from the
    /// grain, flushing each page. False when the stream has ended: its reply completed, it had
    /// to be reset, or the log is gone (then the last events the grain still had come first).
    /// </summary>
    private async Task<bool> ReplayAsync(long upTo, IFrameWriter writer, CancellationToken cancellation)
    {
        while (_position < upTo)
        {
            var page = await TryReadAsync();
            if (page is null)
            {
                // The store or the cluster is away: the client keeps its stream, with a
                // keep-alive each second, until the read succeeds or the client leaves.
                writer.Write(Frame.Heartbeat);
                await FlushAsync(writer, cancellation);
                await Task.Delay(ReadRetryDelay, cancellation);
                continue;
            }
            if (page.Gone)
            {
                foreach (var e in page.Events)
                    if (e.Id > _position) writer.Write(Frame.From(e));
                await FlushAsync(writer, cancellation);
                return false;
            }
            if (ResetRule.ResetFor(_position, page) is { } reset)
            {
                writer.Write(reset);
                await FlushAsync(writer, cancellation);
                return false;
            }
            if (page.Events.Count == 0) return true;
            foreach (var e in page.Events)
            {
                var frame = Frame.From(e);
                _position = e.Id;
                writer.Write(frame);
                if (Ends(frame))
                {
                    await FlushAsync(writer, cancellation);
                    return false;
                }
            }
            await FlushAsync(writer, cancellation);
        }
        return true;
    }

    private async Task<EventPage?> TryReadAsync()
    {
        try
        {
            return await _lease!.Feed.Log.ReadEventsAsync(_position, Page);
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
