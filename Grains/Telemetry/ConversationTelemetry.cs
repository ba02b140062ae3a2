using System.Diagnostics;
using System.Diagnostics.Metrics;
using ChatGrains.Conversation;

namespace ChatGrains.Telemetry;

/// <summary>
/// What the conversations on a silo report: one span per reply (from the moment its
/// generation starts to the publishing of its completion, parent to the model's HTTP request),
/// spans for the commits and publishes made by a call (not for the flushes of a streaming
/// reply, which happen every <c>DeltaInterval</c>: those are counted in the histograms only),
/// and the metrics of the token path: replies in progress, tokens, time to first token, commit
/// latency.
/// </summary>
public sealed class ConversationTelemetry
{
    /// <summary>The name of the silo's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Name = TelemetryNames.Conversations;

    public static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> _tokens;
    private readonly Counter<long> _replies;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _commitDuration;

    public ConversationTelemetry(IMeterFactory meterFactory, ReplyDrain drain)
    {
        var meter = meterFactory.Create(Name);
        meter.CreateObservableUpDownCounter("chatgrains.replies.active", () => drain.Active, "{reply}",
            "Replies this silo is generating now");
        _replies = meter.CreateCounter<long>("chatgrains.replies", "{reply}", "Replies finished, by status");
        _tokens = meter.CreateCounter<long>("chatgrains.reply.tokens", "{token}",
            "Output tokens of finished replies, as charged (the provider's count, else o200k): its rate is tokens per second");
        _timeToFirstToken = meter.CreateHistogram<double>("chatgrains.reply.time_to_first_token", "s",
            "From sending the model request to the reply's first text",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _commitDuration = meter.CreateHistogram<double>("chatgrains.commit.duration", "s",
            "One commit of a conversation's events to the store, before they are published",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    }

    /// <summary>Seconds, from half a millisecond to a minute: commits take milliseconds, a slow model seconds.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>
    /// Starts the span of a reply, child of <paramref name="parent"/> (the call that queued it)
    /// or, when that is unknown, of the current activity. It is not made current: the caller's
    /// turn goes on in its own span; the generator runs inside it (see <c>ActiveReply</c>).
    /// </summary>
    public ReplySpan ReplyStarted(string conversationId, string messageId, ActivityContext parent)
    {
        var previous = Activity.Current;
        var span = parent == default
            ? Source.StartActivity("chatgrains.reply", ActivityKind.Internal)
            : Source.StartActivity("chatgrains.reply", ActivityKind.Internal, parent);
        Activity.Current = previous;
        span?.SetTag("chatgrains.conversation.id", conversationId);
        span?.SetTag("chatgrains.message.id", messageId);
        return new ReplySpan(span, this);
    }

    internal void ReplyEnded(Activity? span, string status, Usage? usage)
    {
        _replies.Add(1, new KeyValuePair<string, object?>("chatgrains.reply.status", status));
        if (usage is not null) _tokens.Add(usage.CompletionTokens);
        if (span is null) return;
        span.SetTag("chatgrains.reply.status", status);
        if (usage is not null)
        {
            span.SetTag("gen_ai.usage.input_tokens", usage.PromptTokens);
            span.SetTag("gen_ai.usage.output_tokens", usage.CompletionTokens);
        }
        if (status == MessageStatus.Failed) span.SetStatus(ActivityStatusCode.Error);
        span.Stop();
    }

    public void FirstToken(TimeSpan sinceRequest) => _timeToFirstToken.Record(sinceRequest.TotalSeconds);

    public void Committed(TimeSpan duration) => _commitDuration.Record(duration.TotalSeconds);
}

/// <summary>A reply's span, ended once whichever way the reply ends.</summary>
public sealed class ReplySpan
{
    private readonly ConversationTelemetry _telemetry;
    private int _ended;

    internal ReplySpan(Activity? activity, ConversationTelemetry telemetry) => (Activity, _telemetry) = (activity, telemetry);

    /// <summary>The span, or null when nobody listens: the parent of the model request and of the reply's last commit.</summary>
    public Activity? Activity { get; }

    public void End(string status, Usage? usage = null)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0) _telemetry.ReplyEnded(Activity, status, usage);
    }
}

/// <summary>
/// The trace each queued reply belongs to: the call that posted its prompt (or asked to
/// regenerate), remembered until the reply starts, which may be in a later turn (a flush of
/// the reply before it), so that the reply's span joins the poster's trace.
/// </summary>
public sealed class ReplyTraces(ConversationTelemetry telemetry)
{
    private readonly Dictionary<string, ActivityContext> _queued = [];

    public void Queued(string messageId)
    {
        if (Activity.Current is { } current) _queued[messageId] = current.Context;
    }

    public ReplySpan Start(string conversationId, string messageId)
    {
        _queued.Remove(messageId, out var parent);
        return telemetry.ReplyStarted(conversationId, messageId, parent);
    }
}
