using System.Buffers;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.Presence;
using ChatGrains.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api.EventStream;

/// <summary>
/// A log's events (a conversation's, or a user's own) written to one connection as
/// <c>text/event-stream</c>: the frames its <see cref="FeedReader"/> hands it, which are already
/// in order, each id once, replay first and then live, ending where the stream ends (see
/// <see cref="FeedReader"/>). A POST's stream ends after its reply's <c>message.completed</c>; a
/// watch stream stays open until the client leaves. This only writes: it decides nothing about
/// order, gaps or <c>reset</c>.
/// </summary>
public sealed class EventStreamResult : IResult
{
    private readonly FeedSource? _source;
    private readonly long? _after;
    private readonly long _lastEventId;
    private readonly string? _endAfterMessageId;
    private readonly string? _viewerId;

    private EventStreamResult(FeedSource? source, long? after, long lastEventId, string? endAfterMessageId, string? viewerId)
    {
        _source = source;
        _after = after;
        _lastEventId = lastEventId;
        _endAfterMessageId = endAfterMessageId;
        _viewerId = viewerId;
    }

    /// <summary>
    /// Events after <paramref name="after"/> (or live only, when null), until the client leaves,
    /// <paramref name="viewerId"/> leaves the conversation, or it is deleted.
    /// <paramref name="lastEventId"/>: where the log stood when the request was checked.
    /// </summary>
    public static EventStreamResult Watch(FeedSource source, long? after, long lastEventId, string? viewerId = null) =>
        new(source, after, lastEventId, null, viewerId);

    /// <summary>Events after <paramref name="after"/> until <paramref name="replyId"/> completes (or the viewer leaves, or it is deleted).</summary>
    public static EventStreamResult UntilReplyCompletes(FeedSource conversation, long after, long lastEventId, string replyId, string? viewerId = null) =>
        new(conversation, after, lastEventId, replyId, viewerId);

    /// <summary>A stream with nothing left to send: it ends at once.</summary>
    public static EventStreamResult Empty() => new(null, null, 0, null, null);

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
        using var reader = _source is null ? null
            : await services.GetRequiredService<FeedHub>().OpenAsync(_source, _after, _lastEventId, _viewerId, _endAfterMessageId, http.Abort);
        body.Write(Frame.Retry(options.RetryInterval).Bytes);
        await body.FlushAsync(cancellation);
        if (reader is null) return;

        var metrics = services.GetRequiredService<FeedMetrics>();
        WatcherPresence? presence = null;
        var counted = false;
        var replySpan = new SseReplySpan();
        try
        {
            await foreach (var batch in reader.ReadAsync(cancellation))
            {
                // Replayed (a stream that ended with reset never counted): a watch stream counts its
                // caller online from here. A POST's stream does not, and writes no presence or typing.
                if (batch.Live && !counted && _endAfterMessageId is null)
                {
                    presence = services.GetRequiredService<PresenceReporter>().Watch(_source!, http.User);
                    counted = true;
                }
                foreach (var frame in batch.Frames)
                {
                    if (frame.IsEphemeral)
                    {
                        if (presence?.Admits(frame) == true) body.Write(frame.Bytes);
                        continue;
                    }
                    replySpan.Writing(frame);
                    body.Write(frame.Bytes);
                    if (frame.DeltaSentAtTicks != 0) metrics.DeltaWritten(frame.DeltaSentAtTicks);
                }
                await body.FlushAsync(cancellation);
                replySpan.Flushed();
                reader.Written();
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
        }
    }
}
