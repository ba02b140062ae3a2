using System.Diagnostics.Metrics;

namespace ChatGrains.Api.Feeds;

/// <summary>What a host's feeds are doing, for dashboards and for tests that check nothing leaks.</summary>
public sealed class FeedMetrics
{
    public const string MeterName = ChatGrains.Hosting.TelemetryHosting.ApiName;
    private readonly Counter<long> _slowWatchers;
    private readonly Counter<long> _backfills;
    private readonly Counter<long> _resubscriptions;
    private readonly Histogram<double> _deltaLatency;
    private int _feeds, _watchers, _subscriptions;
    private long _cutOff;

    public FeedMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableUpDownCounter("chatgrains.feeds", () => Feeds, description: "Conversations this host is feeding");
        meter.CreateObservableUpDownCounter("chatgrains.watchers", () => Watchers, description: "Open event-stream connections");
        meter.CreateObservableUpDownCounter("chatgrains.stream_subscriptions", () => Subscriptions, description: "Orleans stream subscriptions held by this host");
        _slowWatchers = meter.CreateCounter<long>("chatgrains.watchers.cut_off", description: "Watchers disconnected for falling behind");
        _backfills = meter.CreateCounter<long>("chatgrains.feeds.backfills", description: "Times a feed read missed events from the grain");
        _resubscriptions = meter.CreateCounter<long>("chatgrains.feeds.resubscriptions", description: "Stream subscriptions replaced after they let events go by");
        _deltaLatency = meter.CreateHistogram<double>("chatgrains.delta.latency", "s",
            "From the grain publishing a message.delta to this host writing it to a connection (clocks of two machines: as good as their sync)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public int Feeds => Volatile.Read(ref _feeds);
    public int Watchers => Volatile.Read(ref _watchers);
    public int Subscriptions => Volatile.Read(ref _subscriptions);
    public long WatchersCutOff => Interlocked.Read(ref _cutOff);

    public void FeedOpened() => Interlocked.Increment(ref _feeds);
    public void FeedClosed() => Interlocked.Decrement(ref _feeds);
    public void WatcherAttached() => Interlocked.Increment(ref _watchers);
    public void WatcherDetached() => Interlocked.Decrement(ref _watchers);
    public void Subscribed() => Interlocked.Increment(ref _subscriptions);
    public void Unsubscribed() => Interlocked.Decrement(ref _subscriptions);
    public void WatcherCutOff()
    {
        Interlocked.Increment(ref _cutOff);
        _slowWatchers.Add(1);
    }
    public void Backfilled() => _backfills.Add(1);
    public void Resubscribed() => _resubscriptions.Add(1);

    /// <summary>A delta published at <paramref name="sentAtTicks"/> (UTC) was just written to a connection.</summary>
    public void DeltaWritten(long sentAtTicks)
    {
        if (_deltaLatency.Enabled) _deltaLatency.Record(Math.Max(0, DateTime.UtcNow.Ticks - sentAtTicks) / (double)TimeSpan.TicksPerSecond);
    }
}
