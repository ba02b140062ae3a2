using System.Threading.Channels;
using ChatGrains.Api.EventStream;
using Orleans.Streams;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// What a <see cref="LogFollower"/> hands its events to: the fan-out side of a feed
/// (<see cref="EventFeed"/>). Called from the follower's loop alone, one call at a time.
/// </summary>
public interface ILogSink
{
    /// <summary>The next event of the log: in id order, with no gap and no repeat. <paramref name="repliesOpen"/>: a reply the follower knows of is still open after it.</summary>
    void Deliver(ConversationEvent e, bool repliesOpen);

    /// <summary>Presence or typing: no id and no place in the log.</summary>
    void DeliverEphemeral(ConversationEvent e);

    /// <summary>The log has ended (the grain says it is gone): nothing more will come.</summary>
    void End();

    /// <summary>The follower fell behind further than the log keeps: every watcher must reload with <paramref name="reset"/>; the log goes on after <paramref name="lastEventId"/>.</summary>
    void Reset(Frame reset, long lastEventId);
}

/// <summary>
/// The source side of a feed: this host's one Orleans stream subscription to a log, turned into
/// its events in id order with no gap. The stream is the fast path; the grain is the truth: a
/// jump in ids, or a reply that goes quiet, makes the follower read what it missed from the
/// grain (and replace a subscription that let events go by). This is the one repair path of the
/// token path; what it hands to its <see cref="ILogSink"/> needs none.
/// </summary>
public sealed class LogFollower(FeedSource source, IClusterClient client, FeedOptions options, FeedMetrics metrics, ILogger logger, ILogSink sink)
{
    private const int Page = 1000;
    private static readonly ConversationEvent WakeUp = new(0, "", "");
    private static readonly ConversationEvent Resync = new(0, "resync", "");
    private static readonly ConversationEvent Silence = new(0, "silence", "");
    private readonly HashSet<string> _openReplies = [];
    private readonly Channel<ConversationEvent> _inbound = Channel.CreateUnbounded<ConversationEvent>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private long _lastId;
    private long _expectedId;
    private bool _replyInProgress;
    private StreamSubscriptionHandle<ConversationEvent>? _subscription;
    private Task _loop = Task.CompletedTask;
    private Timer? _silenceCheck;
    private long _lastHeard = Environment.TickCount64;

    private IEventLog? _grain;

    /// <summary>The grain that holds the log (one reference, made when first needed).</summary>
    public IEventLog Log => _grain ??= source.Log(client);

    /// <summary>
    /// Subscribes, then reads where the log stands (anything newer arrives on the stream or is
    /// backfilled). Returns that head; nothing is handed on before <see cref="Run"/>.
    /// </summary>
    public async Task<EventPage> OpenAsync()
    {
        try
        {
            _subscription = await SubscribeAsync();
            metrics.Subscribed();
        }
        catch (Exception ex)
        {
            // The streams' subscriber lists live in Redis: while it is away nobody can subscribe.
            // The feed starts without its fast path and reads the grain instead (see CheckSilence),
            // subscribing again after each read until that works.
            logger.LogWarning(ex, "Feed {Feed} starts unsubscribed; it reads the grain until it can subscribe", source.Key);
        }
        var head = await Log.ReadEventsAsync(long.MaxValue, 0);
        _lastId = head.LastEventId;
        _replyInProgress = head.ReplyInProgress;
        return head;
    }

    /// <summary>Starts handing on events, after <see cref="OpenAsync"/>.</summary>
    public void Run()
    {
        _loop = Task.Run(() => RunAsync(_stop.Token));
        // One timer per feed that looks at the silence a few times per timeout, rather than a
        // timeout armed and cancelled around every event: moving timers takes a process-wide
        // lock, and with a thousand replies streaming that was 40,000 timer changes a second.
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10,
            Math.Min(options.StallTimeout.Ticks, options.IdleCheckInterval.Ticks) / 10));
        _silenceCheck = new Timer(_ => CheckSilence(), null, period, period);
    }

    public async Task StopAsync()
    {
        if (_silenceCheck is not null) await _silenceCheck.DisposeAsync();
        _stop.Cancel();
        await _loop;
        if (_subscription is not null)
        {
            try { await _subscription.UnsubscribeAsync(); }
            catch (Exception ex) { logger.LogWarning(ex, "Unsubscribing from feed {Feed} failed", source.Key); }
            metrics.Unsubscribed();
        }
    }

    /// <summary>
    /// The cluster connection changed (a gateway was lost): the subscription may be gone
    /// without a word. Catch up from the grain and subscribe again.
    /// </summary>
    public void ResyncNow() => _inbound.Writer.TryWrite(Resync);

    /// <summary>A POST just created this event: if it does not arrive soon, ask the grain.</summary>
    public void Expect(long eventId)
    {
        long seen;
        while ((seen = Interlocked.Read(ref _expectedId)) < eventId)
        {
            if (Interlocked.CompareExchange(ref _expectedId, eventId, seen) != seen) continue;
            // Wake the loop so that the silence is timed from now.
            _inbound.Writer.TryWrite(WakeUp);
            return;
        }
    }

    private Task<StreamSubscriptionHandle<ConversationEvent>> SubscribeAsync() =>
        client.GetStreamProvider(ConversationStreams.Provider)
            .GetStream<ConversationEvent>(source.Stream)
            // Stream callbacks run one at a time for the whole client: hand the event over and return.
            .SubscribeAsync((e, _) =>
            {
                _inbound.Writer.TryWrite(e);
                return Task.CompletedTask;
            });

    /// <summary>
    /// Replaces a subscription that let events go by (after a gateway loss, or a producer
    /// that came back on another silo, Orleans may not deliver to the old one again).
    /// </summary>
    private async Task ResubscribeAsync()
    {
        var stale = _subscription;
        _subscription = await SubscribeAsync();
        if (stale is null)
        {
            metrics.Subscribed();
            return;
        }
        metrics.Resubscribed();
        try { await stale.UnsubscribeAsync(); }
        catch (Exception ex) { logger.LogDebug(ex, "Dropping the stale subscription of feed {Feed} failed", source.Key); }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _inbound.Reader;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!await reader.WaitToReadAsync(cancellationToken)) return;
                while (reader.TryRead(out var e))
                {
                    if (EphemeralEvents.Is(e))
                    {
                        sink.DeliverEphemeral(e);
                        continue;
                    }
                    if (ReferenceEquals(e, Silence))
                    {
                        // Quiet for too long while something was expected (or for the idle check
                        // interval): the producer may have died, or the stream lost our
                        // subscription. The grain knows (reading it also reactivates it); if it had
                        // events the stream did not bring, the subscription is suspect.
                        var before = _lastId;
                        await BackfillAsync();
                        if (_lastId > before || _subscription is null) await ResubscribeAsync();
                        continue;
                    }
                    Volatile.Write(ref _lastHeard, Environment.TickCount64);
                    if (ReferenceEquals(e, Resync))
                    {
                        await BackfillAsync();
                        await ResubscribeAsync();
                        continue;
                    }
                    if (e.Id <= _lastId) continue;
                    if (e.Id > _lastId + 1)
                    {
                        metrics.Backfilled();
                        await BackfillAsync();
                    }
                    if (e.Id == _lastId + 1) Deliver(e);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The grain may be unreachable for a moment (a silo is failing over); try again.
                logger.LogWarning(ex, "Feed {Feed} could not backfill; retrying", source.Key);
                await Task.Delay(options.StallTimeout / 3, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Tells the loop when nothing has come for too long: the stall timeout while a reply is
    /// expected, else the idle check interval (a last resort for a stream that died while
    /// nothing was expected). Runs on the timer, beside the loop.
    /// </summary>
    private void CheckSilence()
    {
        var expecting = Volatile.Read(ref _replyInProgress) || Interlocked.Read(ref _expectedId) > Interlocked.Read(ref _lastId);
        // Unsubscribed, the grain is the only source, also of a prompt posted on another host:
        // read it three times per stall timeout, whether or not anything is expected.
        var limit = (long)(Volatile.Read(ref _subscription) is null ? options.StallTimeout / 3
            : expecting ? options.StallTimeout : options.IdleCheckInterval).TotalMilliseconds;
        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _lastHeard) < limit) return;
        // Timed again from now, so one silence is reported once per limit.
        Volatile.Write(ref _lastHeard, now);
        _inbound.Writer.TryWrite(Silence);
    }

    private async Task BackfillAsync()
    {
        while (true)
        {
            var page = await Log.ReadEventsAsync(_lastId, Page);
            if (page.Gone)
            {
                // The stream's last events were missed: deliver what the grain still has, then end.
                foreach (var e in page.Events)
                {
                    if (e.Id == _lastId + 1) Deliver(e);
                }
                sink.End();
                return;
            }
            // Only a log that went on past this feed can have left it behind.
            if (page.LastEventId > _lastId && ResetRule.ResetFor(_lastId, page) is { } reset)
            {
                Interlocked.Exchange(ref _lastId, page.LastEventId);
                sink.Reset(reset, page.LastEventId);
                return;
            }
            foreach (var e in page.Events)
            {
                if (e.Id == _lastId + 1) Deliver(e);
            }
            _replyInProgress = page.ReplyInProgress;
            if (page.Events.Count == 0 || _lastId >= page.LastEventId) return;
        }
    }

    private void Deliver(ConversationEvent e)
    {
        // Typed by the grain; parsed here only for an event of a silo of the previous build.
        e = e.WithMessageFields();
        TrackReplies(e);
        Interlocked.Exchange(ref _lastId, e.Id);
        sink.Deliver(e, _openReplies.Count > 0);
    }

    private void TrackReplies(ConversationEvent e)
    {
        switch (e.Reply)
        {
            case ReplyStep.Opened:
                _openReplies.Add(e.MessageId!);
                break;
            case ReplyStep.Ended or ReplyStep.EndedByDelete:
                _openReplies.Remove(e.MessageId!);
                break;
            default:
                return;
        }
        _replyInProgress = _openReplies.Count > 0;
    }
}
