using System.Text.Json;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Telemetry;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// This host's single view of one numbered event log: a conversation's, or a user's own
/// (see <see cref="FeedSource"/>). Its <see cref="LogFollower"/> reads the source (one Orleans
/// stream subscription however many connections watch, in id order, gaps and silences read from
/// the grain); this is the fan-out: each event is turned into SSE bytes once, the latest frames
/// are kept for quick resumes, and every frame is offered to every watcher.
/// </summary>
public sealed class EventFeed : ILogSink
{
    private readonly Lock _gate = new();
    private readonly RecentFrames _recent;
    private readonly FeedSource _source;
    private readonly ILogger _logger;
    private readonly LogFollower _follower;
    private readonly FeedReplySpans _replySpans;
    private Watcher[] _watchers = [];
    private Frame? _presence;
    // The id of the last frame offered to the watchers (or where the log stood when the feed started).
    private long _lastId;
    // The log ended (conversation.deleted, or the grain says it is gone): watchers are closed.
    private bool _gone;

    public EventFeed(FeedSource source, IClusterClient client, FeedOptions options, FeedMetrics metrics, ILogger logger)
    {
        _source = source;
        _logger = logger;
        _recent = new RecentFrames(options.RecentEvents);
        _replySpans = new FeedReplySpans(source.Key);
        _follower = new LogFollower(source, client, options, metrics, logger, this);
    }

    public FeedSource Source => _source;

    /// <summary>The grain that holds the log (one reference for every reader of this feed).</summary>
    public IEventLog Log => _follower.Log;

    public int WatcherCount => Volatile.Read(ref _watchers).Length;

    public async Task StartAsync()
    {
        var head = await _follower.OpenAsync();
        lock (_gate)
        {
            _lastId = head.LastEventId;
            _gone = head.Gone;
        }
        _follower.Run();
    }

    public async Task StopAsync()
    {
        await _follower.StopAsync();
        _replySpans.EndAll();
        foreach (var w in Interlocked.Exchange(ref _watchers, [])) w.Close();
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
            if (afterId < _lastId && _recent.TryOffer(afterId.Value, watcher)) return new Attachment(afterId.Value, 0);
            return new Attachment(afterId.Value, _lastId);
        }
    }

    public void Detach(Watcher watcher)
    {
        lock (_gate) _watchers = _watchers.Where(w => w != watcher).ToArray();
    }

    /// <inheritdoc cref="LogFollower.ResyncNow"/>
    public void ResyncNow() => _follower.ResyncNow();

    /// <inheritdoc cref="LogFollower.Expect"/>
    public void Expect(long eventId) => _follower.Expect(eventId);

    void ILogSink.Deliver(ConversationEvent e, bool repliesOpen)
    {
        var frame = Frame.From(e, _replySpans.Received(e));
        Watcher[] watchers;
        lock (_gate)
        {
            _recent.Add(frame);
            _lastId = e.Id;
            watchers = _watchers;
        }
        foreach (var w in watchers) w.Offer(frame);
        _replySpans.Offered(frame, watchers.Length, repliesOpen);
        if (frame.EndsLog) CloseAll();
    }

    void ILogSink.End() => CloseAll();

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
    void ILogSink.DeliverEphemeral(ConversationEvent e)
    {
        Frame frame;
        try
        {
            frame = Frame.Ephemeral(e);
        }
        catch (JsonException ex)
        {
            _logger.LogWarning(ex, "Feed {Feed} dropped a malformed {Type} event", _source.Key, e.Type);
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

    /// <summary>Every watcher gets the reset and ends; the feed goes on from <paramref name="lastEventId"/>.</summary>
    void ILogSink.Reset(Frame reset, long lastEventId)
    {
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
