using System.Text.Json;
using System.Threading.Channels;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Telemetry;
using Orleans.Streams;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// This host's single view of one numbered event log: a conversation's, or a user's own
/// (see <see cref="FeedSource"/>). It holds one Orleans stream subscription however many
/// connections watch, turns each event into SSE bytes once, keeps the latest frames for quick
/// resumes, and offers every event, in id order with no gap, to every watcher. The stream is
/// the fast path; the grain is the truth: a jump in ids, or a reply that goes quiet, makes the
/// feed read what it missed from the grain.
/// </summary>
public sealed class EventFeed(FeedSource source, IClusterClient client, FeedOptions options, FeedMetrics metrics, ILogger logger)
{
    private const int Page = 1000;
    private static readonly ConversationEvent WakeUp = new(0, "", "");
    private static readonly ConversationEvent Resync = new(0, "resync", "");
    private static readonly ConversationEvent Silence = new(0, "silence", "");
    private readonly Lock _gate = new();
    private readonly Queue<Frame> _recent = new();
    private readonly HashSet<string> _openReplies = [];
    private readonly Channel<ConversationEvent> _inbound = Channel.CreateUnbounded<ConversationEvent>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly FeedReplySpans _replySpans = new(source.Key);
    private Watcher[] _watchers = [];
    private Frame? _presence;
    private long _lastId;
    private long _expectedId;
    private bool _replyInProgress;
    // The log ended (conversation.deleted, or the grain says it is gone): watchers are closed.
    private bool _gone;
    private StreamSubscriptionHandle<ConversationEvent>? _subscription;
    private Task _loop = Task.CompletedTask;
    private Timer? _silenceCheck;
    private long _lastHeard = Environment.TickCount64;

    private IEventLog Grain => source.Log(client);

    public FeedSource Source => source;

    public int WatcherCount => Volatile.Read(ref _watchers).Length;

    public async Task StartAsync()
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
        // Subscribed first, then read the head: anything newer arrives on the stream or is backfilled.
        var head = await Grain.ReadEventsAsync(long.MaxValue, 0);
        _lastId = head.LastEventId;
        _replyInProgress = head.ReplyInProgress;
        _gone = head.Gone;
        _loop = Task.Run(() => RunAsync(_stop.Token));
        // One timer per feed that looks at the silence a few times per timeout, rather than a
        // timeout armed and cancelled around every event: moving timers takes a process-wide
        // lock, and with a thousand replies streaming that was 40,000 timer changes a second.
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10,
            Math.Min(options.StallTimeout.Ticks, options.IdleCheckInterval.Ticks) / 10));
        _silenceCheck = new Timer(_ => CheckSilence(), null, period, period);
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

    public async Task StopAsync()
    {
        if (_silenceCheck is not null) await _silenceCheck.DisposeAsync();
        _stop.Cancel();
        await _loop;
        _replySpans.EndAll();
        foreach (var w in Interlocked.Exchange(ref _watchers, [])) w.Close();
        if (_subscription is not null)
        {
            try { await _subscription.UnsubscribeAsync(); }
            catch (Exception ex) { logger.LogWarning(ex, "Unsubscribing from feed {Feed} failed", source.Key); }
            metrics.Unsubscribed();
        }
    }

    /// <summary>
    /// Adds a watcher. With no resume point it gets live events from here on; otherwise the
    /// events after <paramref name="afterId"/> are queued for it first if this feed still
    /// holds them, else it must read them from the grain (see <see cref="Attachment"/>).
    /// </summary>
    public Attachment Attach(Watcher watcher, long? afterId)
    {
        var attachment = AttachToLog(watcher, afterId);
        // After what it replays from here: the latest presence this host has heard of.
        lock (_gate)
        {
            if (_presence is not null) watcher.Offer(_presence);
        }
        return attachment;
    }

    private Attachment AttachToLog(Watcher watcher, long? afterId)
    {
        lock (_gate)
        {
            if (_gone)
            {
                watcher.Close();
                return new Attachment(_lastId, 0);
            }
            _watchers = [.. _watchers, watcher];
            if (afterId is null || afterId == _lastId) return new Attachment(_lastId, 0);
            if (afterId < _lastId && _recent.Count > 0 && _recent.Peek().Id <= afterId + 1)
            {
                foreach (var frame in _recent)
                {
                    if (frame.Id > afterId) watcher.Offer(frame);
                }
                return new Attachment(afterId.Value, 0);
            }
            return new Attachment(afterId.Value, _lastId);
        }
    }

    public void Detach(Watcher watcher)
    {
        lock (_gate) _watchers = _watchers.Where(w => w != watcher).ToArray();
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
                        OfferEphemeral(e);
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
            var page = await Grain.ReadEventsAsync(_lastId, Page);
            if (page.Gone)
            {
                // The stream's last events were missed: deliver what the grain still has, then end.
                foreach (var e in page.Events)
                {
                    if (e.Id == _lastId + 1) Deliver(e);
                }
                CloseAll();
                return;
            }
            if (!page.CanResumeFrom(_lastId) && page.LastEventId > _lastId)
            {
                // Fell behind further than the log keeps: every watcher must reload.
                ResetAll(page.LastEventId);
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
        TrackReplies(e);
        var frame = Frame.From(e, _replySpans.Received(e));
        Watcher[] watchers;
        lock (_gate)
        {
            _recent.Enqueue(frame);
            if (_recent.Count > options.RecentEvents) _recent.Dequeue();
            _lastId = e.Id;
            watchers = _watchers;
        }
        foreach (var w in watchers) w.Offer(frame);
        _replySpans.Offered(frame, watchers.Length, _openReplies.Count > 0);
        if (frame.EndsLog) CloseAll();
    }

    /// <summary>The log has ended: every watcher ends after what is queued, and new ones at once.</summary>
    private void CloseAll()
    {
        lock (_gate)
        {
            _gone = true;
            foreach (var w in _watchers) w.Close();
            _watchers = [];
        }
    }

    /// <summary>
    /// Presence and typing (from the presence grain, on the same stream) have no id and no place
    /// in the log: they go straight to the watchers there are now, and are not kept for replay,
    /// nor timed as signs of life of the log. Only the latest presence is kept, for the next
    /// watcher to start with.
    /// </summary>
    private void OfferEphemeral(ConversationEvent e)
    {
        Frame frame;
        try
        {
            frame = Frame.Ephemeral(e);
        }
        catch (JsonException ex)
        {
            logger.LogWarning(ex, "Feed {Feed} dropped a malformed {Type} event", source.Key, e.Type);
            return;
        }
        Watcher[] watchers;
        lock (_gate)
        {
            if (frame.Online is not null) _presence = frame;
            watchers = _watchers;
        }
        foreach (var w in watchers) w.Offer(frame);
    }

    private void TrackReplies(ConversationEvent e)
    {
        switch (e.Type)
        {
            case EventTypes.MessageCreated:
                var created = JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCreatedData)!.Message;
                if (created.Role == Roles.Assistant && !MessageStatus.IsFinal(created.Status)) _openReplies.Add(created.Id);
                break;
            case EventTypes.MessageCompleted:
                _openReplies.Remove(JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCompletedData)!.MessageId);
                break;
            default:
                return;
        }
        _replyInProgress = _openReplies.Count > 0;
    }

    private void ResetAll(long lastEventId)
    {
        var reset = Frame.Reset(lastEventId);
        lock (_gate)
        {
            _recent.Clear();
            _lastId = lastEventId;
            foreach (var w in _watchers)
            {
                w.Offer(reset);
                w.Close();
            }
            _watchers = [];
        }
    }
}

/// <summary>
/// Where a new watcher stands: its client already has every event up to <see cref="Position"/>;
/// what follows is queued for it, except that it must first read the events up to
/// <see cref="BackfillTo"/> from the grain when that is greater.
/// </summary>
public readonly record struct Attachment(long Position, long BackfillTo);
