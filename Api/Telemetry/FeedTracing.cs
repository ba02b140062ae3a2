using System.Diagnostics;
using ChatGrains.Api.EventStream;
using ChatGrains.Hosting;

namespace ChatGrains.Api.Telemetry;

/// <summary>
/// The host's spans of a reply, so that a prompt's trace goes on past the grain: one span per
/// reply per host feed (<c>chatgrains.feed.reply</c>, child of the grain's reply span, from the
/// first of its events this host receives to its completion), and one per reply per connection
/// (<c>chatgrains.sse.reply</c>, child of the feed's, for the writes of its events to that
/// stream). Never one per event or per token: a reply of a thousand tokens to a hundred
/// watchers is a hundred and one spans on a host, not a hundred thousand.
/// </summary>
public static class FeedTracing
{
    public static readonly ActivitySource Source = new(TelemetryHosting.ApiName);

    /// <summary>The events that belong to a reply's span: its deltas and its completion.</summary>
    public static bool IsReplyEvent(ConversationEvent e) => e.Type is EventTypes.MessageDelta or EventTypes.MessageCompleted;

    /// <summary>Starts a span without making it current: the caller's own span stays the current one.</summary>
    public static Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent)
    {
        var previous = Activity.Current;
        var span = Source.StartActivity(name, kind, parent);
        Activity.Current = previous;
        return span;
    }
}

/// <summary>
/// A feed's open reply spans (<c>chatgrains.feed.reply</c>), keyed by the grain's reply span.
/// Used by the feed's loop alone, so it needs no lock.
/// </summary>
public sealed class FeedReplySpans(string feedKey)
{
    private readonly Dictionary<ActivitySpanId, (Activity Span, int Events)> _open = [];

    /// <summary>The context a reply event's frame carries to the watchers: this host's span of the reply (default when untraced).</summary>
    public ActivityContext Received(ConversationEvent e)
    {
        if (e.TraceParent is null || !FeedTracing.IsReplyEvent(e)
            || !ActivityContext.TryParse(e.TraceParent, null, isRemote: true, out var parent)) return default;
        if (!_open.TryGetValue(parent.SpanId, out var open))
        {
            var span = FeedTracing.StartDetached("chatgrains.feed.reply", ActivityKind.Consumer, parent);
            if (span is null) return default;
            span.SetTag("chatgrains.feed", feedKey);
            open = (span, 0);
        }
        _open[parent.SpanId] = (open.Span, open.Events + 1);
        return open.Span.Context;
    }

    /// <summary>After a frame went to the watchers: a completion ends its reply's span, and when no reply is open any left over (their completion came untraced, read from the grain).</summary>
    public void Offered(Frame frame, int watchers, bool anyReplyOpen)
    {
        if (frame.CompletedMessageId is null) return;
        foreach (var (key, (span, events)) in _open.ToArray())
        {
            if (span.Context != frame.Trace && anyReplyOpen) continue;
            span.SetTag("chatgrains.events", events);
            span.SetTag("chatgrains.watchers", watchers);
            span.Stop();
            _open.Remove(key);
        }
    }

    public void EndAll()
    {
        foreach (var (span, _) in _open.Values) span.Stop();
        _open.Clear();
    }
}

/// <summary>
/// One connection's span of the reply whose events it is writing (<c>chatgrains.sse.reply</c>),
/// child of the feed's span that the frames carry; ended when the reply's completion is flushed.
/// </summary>
public sealed class SseReplySpan
{
    private Activity? _span;
    private ActivityContext _parent;
    private int _events;
    private bool _completed;

    public void Writing(Frame frame)
    {
        if (frame.Trace == default) return;
        if (_span is null || _parent != frame.Trace)
        {
            End();
            _span = FeedTracing.StartDetached("chatgrains.sse.reply", ActivityKind.Producer, frame.Trace);
            _parent = frame.Trace;
        }
        _events++;
        _completed |= frame.CompletedMessageId is not null;
    }

    /// <summary>After a flush: the span ends once its reply's completion is on the wire.</summary>
    public void Flushed()
    {
        if (_completed) End();
    }

    public void End()
    {
        _span?.SetTag("chatgrains.events", _events);
        _span?.Stop();
        (_span, _events, _completed) = (null, 0, false);
    }
}
