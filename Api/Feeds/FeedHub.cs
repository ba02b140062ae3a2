using Microsoft.Extensions.Options;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// The feeds of this host: at most one per event log, created when its first watcher
/// arrives and unsubscribed a grace period after its last one leaves.
/// </summary>
public sealed class FeedHub(IClusterClient client, IOptions<FeedOptions> options, FeedMetrics metrics, HeartbeatScheduler heartbeats, ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _feeds = [];
    private readonly ILogger _logger = loggers.CreateLogger<EventFeed>();

    /// <summary>
    /// A connection's reading of a log after <paramref name="after"/> (live only when null), whose
    /// last event was <paramref name="lastEventId"/> when its request was checked: a stream
    /// from this host's feed of the log, or, for a resume point the log cannot serve, just a
    /// <c>reset</c> (see <see cref="ResetRule"/>). <paramref name="viewerId"/>: the stream ends after
    /// their own <c>member.left</c>; <paramref name="endAfterReplyId"/>: a POST's stream, which ends
    /// with that reply. <paramref name="disconnect"/> cuts the connection of a reader that falls behind.
    /// Dispose the reader when the connection ends.
    /// </summary>
    public async Task<FeedReader> OpenAsync(FeedSource source, long? after, long lastEventId, string? viewerId, string? endAfterReplyId, Action disconnect)
    {
        if (ResetRule.ResetFor(after, lastEventId) is { } reset) return new FeedReader(reset);
        var lease = await AcquireAsync(source);
        try
        {
            return new FeedReader(lease, after, options.Value, heartbeats, metrics, viewerId, endAfterReplyId, disconnect);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>The log's feed, started; dispose the lease when done with it.</summary>
    public async Task<FeedLease> AcquireAsync(FeedSource source)
    {
        Entry entry;
        lock (_gate)
        {
            if (!_feeds.TryGetValue(source.Key, out entry!))
            {
                var feed = new EventFeed(source, client, options.Value, metrics, _logger);
                entry = new Entry(feed, StartAsync(feed));
                _feeds[source.Key] = entry;
            }
            entry.Leases++;
        }
        try
        {
            await entry.Started;
        }
        catch
        {
            Release(entry);
            throw;
        }
        return new FeedLease(this, entry);
    }

    /// <summary>Has every feed catch up from its grain and subscribe again (after a gateway was lost).</summary>
    public void ResyncAll()
    {
        lock (_gate)
        {
            foreach (var entry in _feeds.Values) entry.Feed.ResyncNow();
        }
    }

    /// <summary>The feed of a log if this host has one.</summary>
    public EventFeed? Find(FeedSource source)
    {
        lock (_gate) return _feeds.GetValueOrDefault(source.Key)?.Feed;
    }

    private async Task StartAsync(EventFeed feed)
    {
        try
        {
            await feed.StartAsync();
            metrics.FeedOpened();
        }
        catch
        {
            lock (_gate)
            {
                if (_feeds.TryGetValue(feed.Source.Key, out var e) && e.Feed == feed) _feeds.Remove(feed.Source.Key);
            }
            await feed.StopAsync();
            throw;
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            if (--entry.Leases > 0) return;
        }
        _ = CloseWhenUnusedAsync(entry);
    }

    private async Task CloseWhenUnusedAsync(Entry entry)
    {
        await Task.Delay(options.Value.UnsubscribeGrace);
        lock (_gate)
        {
            if (entry.Leases > 0 || !_feeds.TryGetValue(entry.Feed.Source.Key, out var current) || current != entry) return;
            _feeds.Remove(entry.Feed.Source.Key);
        }
        if (entry.Started.IsCompletedSuccessfully)
        {
            await entry.Feed.StopAsync();
            metrics.FeedClosed();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Entry[] entries;
        lock (_gate)
        {
            entries = [.. _feeds.Values];
            _feeds.Clear();
        }
        foreach (var e in entries.Where(e => e.Started.IsCompletedSuccessfully))
        {
            await e.Feed.StopAsync();
            metrics.FeedClosed();
        }
    }

    internal sealed class Entry(EventFeed feed, Task started)
    {
        public EventFeed Feed { get; } = feed;
        public Task Started { get; } = started;
        public int Leases;
    }

    public sealed class FeedLease : IDisposable
    {
        private readonly FeedHub _hub;
        private readonly Entry _entry;
        private int _disposed;

        internal FeedLease(FeedHub hub, Entry entry)
        {
            _hub = hub;
            _entry = entry;
        }

        public EventFeed Feed => _entry.Feed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _hub.Release(_entry);
        }
    }
}
