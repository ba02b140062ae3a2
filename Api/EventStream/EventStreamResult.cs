using System.Buffers;
using System.IO.Pipelines;
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

        var writer = new ConnectionWriter(body, services, _source!, http.User, watch: _endAfterMessageId is null);
        try
        {
            await reader.CopyToAsync(writer, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client left.
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>
    /// Writes one connection's frames to its response body, with what goes along: a watch stream
    /// counts its caller online once live, and only it gets presence and typing; a reply's span
    /// and each delta's latency are recorded as they are written.
    /// </summary>
    private sealed class ConnectionWriter(PipeWriter body, IServiceProvider services, FeedSource source, System.Security.Claims.ClaimsPrincipal user, bool watch)
        : IFrameWriter, IDisposable
    {
        private readonly FeedMetrics _metrics = services.GetRequiredService<FeedMetrics>();
        private readonly SseReplySpan _replySpan = new();
        private WatcherPresence? _presence;

        public void Live()
        {
            // Replayed (a stream that ended with reset never counted): a watch stream counts its
            // caller online from here. A POST's stream does not, and writes no presence or typing.
            if (watch) _presence ??= services.GetRequiredService<PresenceReporter>().Watch(source, user);
        }

        public void Write(Frame frame)
        {
            if (frame.IsEphemeral)
            {
                if (_presence?.Admits(frame) == true) body.Write(frame.Bytes);
                return;
            }
            _replySpan.Writing(frame);
            body.Write(frame.Bytes);
            if (frame.DeltaSentAtTicks != 0) _metrics.DeltaWritten(frame.DeltaSentAtTicks);
        }

        public ValueTask<FlushResult> FlushAsync(CancellationToken cancellation) => body.FlushAsync(cancellation);

        public void Flushed() => _replySpan.Flushed();

        public void Dispose()
        {
            _replySpan.End();
            _presence?.Dispose();
        }
    }
}
