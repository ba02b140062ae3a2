using System.Buffers;
using System.IO.Pipelines;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.Presence;
using ChatGrains.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api.EventStream;

/// <summary>
/// A log's events (a conversation's, or a user's own) written to one connection as
/// <c>text/event-stream</c>: first what the client missed since its resume point (from the
/// host's feed, or from the grain), then
/// live events from the feed, each id exactly once and in order. A POST's stream ends after
/// its reply's <c>message.completed</c>; a watch stream stays open until the client leaves.
/// Every stream also ends after its viewer's own <c>member.left</c> (removed or left, they may
/// see no more) and after <c>conversation.deleted</c>, or when the log turns out to be gone.
/// </summary>
public sealed class EventStreamResult : IResult
{
    private const int Page = 1000;
    private static readonly TimeSpan ReadRetryDelay = TimeSpan.FromSeconds(1);
    private readonly FeedSource? _source;
    private readonly long? _after;
    private readonly string? _endAfterMessageId;
    private readonly long? _resetTo;
    private readonly string? _viewerId;
    private long _position;

    private EventStreamResult(FeedSource? source, long? after, string? endAfterMessageId, long? resetTo, string? viewerId = null)
    {
        _source = source;
        _after = after;
        _endAfterMessageId = endAfterMessageId;
        _resetTo = resetTo;
        _viewerId = viewerId;
    }

    /// <summary>
    /// Events after <paramref name="after"/> (or live only, when null), until the client leaves,
    /// <paramref name="viewerId"/> leaves the conversation, or it is deleted.
    /// </summary>
    public static EventStreamResult Watch(FeedSource source, long? after, string? viewerId = null) => new(source, after, null, null, viewerId);

    /// <summary>Events after <paramref name="after"/> until <paramref name="replyId"/> completes (or the viewer leaves, or it is deleted).</summary>
    public static EventStreamResult UntilReplyCompletes(FeedSource conversation, long after, string replyId, string? viewerId = null) =>
        new(conversation, after, replyId, null, viewerId);

    /// <summary>A stream that only tells the client to reload its snapshot.</summary>
    public static EventStreamResult Reset(long lastEventId) => new(null, null, null, lastEventId);

    /// <summary>A stream with nothing left to send: it ends at once.</summary>
    public static EventStreamResult Empty() => new(null, null, null, null);

    public async Task ExecuteAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<FeedOptions>>().Value;
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        var body = response.BodyWriter;
        var cancellation = http.RequestAborted;
        // The feed starts before anything is written: if it cannot (the store or the cluster is
        // away), the client still gets a 503 problem with Retry-After, not a stream that breaks.
        using var lease = _source is null ? null : await services.GetRequiredService<FeedHub>().AcquireAsync(_source);
        body.Write(Frame.Retry(options.RetryInterval).Bytes);
        if (_resetTo is { } last) body.Write(Frame.Reset(last).Bytes);
        await body.FlushAsync(cancellation);
        if (lease is null) return;

        var heartbeats = services.GetRequiredService<HeartbeatScheduler>();
        var metrics = services.GetRequiredService<FeedMetrics>();
        var grain = _source!.Log(services.GetRequiredService<IClusterClient>());

        var watcher = new Watcher(options.WatcherBuffer, http.Abort);
        var attachment = lease.Feed.Attach(watcher, _after);
        metrics.WatcherAttached();
        heartbeats.Add(watcher);
        WatcherPresence? presence = null;
        var replySpan = new SseReplySpan();
        try
        {
            _position = attachment.Position;
            if (attachment.BackfillTo > _position && await ReplayFromGrainAsync(grain, body, attachment.BackfillTo, cancellation))
                return;
            // Replayed (a stream that ended with reset never counted): a watch stream counts its
            // caller online from here. A POST's stream does not, and writes no presence or typing.
            if (_endAfterMessageId is null) presence = services.GetRequiredService<PresenceReporter>().Watch(_source, http.User);

            var frames = watcher.Frames;
            while (true)
            {
                while (frames.TryRead(out var frame))
                {
                    if (frame.IsEphemeral)
                    {
                        if (presence?.Admits(frame) == true) body.Write(frame.Bytes);
                        continue;
                    }
                    if (frame.Id != 0)
                    {
                        if (frame.Id <= _position) continue; // already sent by the replay
                        if (frame.Id > _position + 1 && await ReplayFromGrainAsync(grain, body, frame.Id - 1, cancellation)) return;
                        if (frame.Id <= _position) continue;
                        _position = frame.Id;
                    }
                    replySpan.Writing(frame);
                    body.Write(frame.Bytes);
                    if (frame.DeltaSentAtTicks != 0) metrics.DeltaWritten(frame.DeltaSentAtTicks);
                    if (IsEnd(frame))
                    {
                        await body.FlushAsync(cancellation);
                        return;
                    }
                }
                // Everything queued is written, then flushed once: the cost is per flush, not per event.
                await body.FlushAsync(cancellation);
                replySpan.Flushed();
                watcher.MarkWritten();
                if (!await frames.WaitToReadAsync(cancellation)) break;
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client left.
        }
        finally
        {
            replySpan.End();
            presence?.Dispose();
            if (watcher.Overflowed) metrics.WatcherCutOff();
            heartbeats.Remove(watcher);
            lease.Feed.Detach(watcher);
            metrics.WatcherDetached();
        }
    }

    private bool IsEnd(Frame frame) =>
        frame.EndsStreamOf(_viewerId)
        || (_endAfterMessageId is not null && frame.CompletedMessageId == _endAfterMessageId && !frame.CompletedByDelete);

    /// <summary>
    /// Writes the events after the current position up to <paramref name="upTo"/>, read from
    /// the grain. Returns true when the stream has ended (its reply completed, it had to be reset,
    /// or the log is gone: then the last events the grain still had are written first).
    /// </summary>
    private async Task<bool> ReplayFromGrainAsync(IEventLog grain, PipeWriter body, long upTo, CancellationToken cancellation)
    {
        while (_position < upTo)
        {
            var page = await ReadEventsAsync(grain, body, cancellation);
            if (page.Gone)
            {
                foreach (var e in page.Events.Where(e => e.Id > _position)) body.Write(Frame.From(e).Bytes);
                await body.FlushAsync(cancellation);
                return true;
            }
            if (!page.CanResumeFrom(_position))
            {
                body.Write(Frame.Reset(page.LastEventId).Bytes);
                await body.FlushAsync(cancellation);
                return true;
            }
            if (page.Events.Count == 0) return false;
            foreach (var e in page.Events)
            {
                var frame = Frame.From(e);
                _position = e.Id;
                body.Write(frame.Bytes);
                if (IsEnd(frame))
                {
                    await body.FlushAsync(cancellation);
                    return true;
                }
            }
            await body.FlushAsync(cancellation);
        }
        return false;
    }

    /// <summary>
    /// The next page of events from the grain. While the store or the cluster is away the
    /// client keeps its stream: the read is tried again every second, with a keep-alive each
    /// time, until it succeeds or the client leaves.
    /// </summary>
    private async Task<EventPage> ReadEventsAsync(IEventLog grain, PipeWriter body, CancellationToken cancellation)
    {
        while (true)
        {
            try
            {
                return await grain.ReadEventsAsync(_position, Page);
            }
            catch (Exception e) when (PassingTrouble.Is(e))
            {
                body.Write(Frame.Heartbeat.Bytes);
                await body.FlushAsync(cancellation);
                await Task.Delay(ReadRetryDelay, cancellation);
            }
        }
    }
}
