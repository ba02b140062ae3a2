using System.Diagnostics.Metrics;

namespace ChatGrains.Api.Feeds;

/// <summary>What a host's feeds are doing, for dashboards and for tests that check nothing leaks.</summary>
public sealed class FeedMetrics
{
    public const string MeterName = "ChatGrains.Api";
    private readonly Counter<long> _slowWatchers;
    private readonly Counter<long> _backfills;
    private readonly Counter<long> _resubscriptions;
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
}
