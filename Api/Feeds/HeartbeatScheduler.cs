using System.Collections.Concurrent;
using ChatGrains.Api.EventStream;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// Sends <c>: keep-alive</c> to watchers that have been sent nothing for a while. One timer
/// for the whole host; each watcher's period is jittered below the configured interval, so
/// heartbeats to thousands of idle watchers are spread out instead of falling at one instant.
/// </summary>
public sealed class HeartbeatScheduler(IOptions<FeedOptions> options) : BackgroundService
{
    private readonly ConcurrentDictionary<Watcher, byte> _watchers = new();

    public void Add(Watcher watcher)
    {
        var interval = (long)options.Value.HeartbeatInterval.TotalMilliseconds;
        watcher.HeartbeatPeriodMs = (long)(interval * (0.6 + 0.3 * Random.Shared.NextDouble()));
        _watchers.TryAdd(watcher, 0);
    }

    public void Remove(Watcher watcher) => _watchers.TryRemove(watcher, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Ticking at a tenth of the interval keeps every watcher's silence under the interval.
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval / 10);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var watcher in _watchers.Keys)
            {
                if (watcher.MillisecondsSinceLastWrite < watcher.HeartbeatPeriodMs) continue;
                watcher.MarkWritten(); // counted as sent, so a slow writer is not offered one per tick
                watcher.Offer(Frame.Heartbeat);
            }
        }
    }
}
