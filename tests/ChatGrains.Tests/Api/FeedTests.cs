using System.Diagnostics.Metrics;
using ChatGrains.Api.Feeds;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace ChatGrains.Tests.Api;

public sealed class QuickFeedFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Feeds:StallTimeout"] = "00:00:00.300",
        ["Feeds:UnsubscribeGrace"] = "00:00:00.200",
        ["Feeds:RecentEvents"] = "8",
        ["Conversation:RecentEvents"] = "8",
    };
}

/// <summary>One feed per conversation per host: one subscription, fan-out, clean-up, and the grain as the truth.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class FeedTests(QuickFeedFixture fixture) : IClassFixture<QuickFeedFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task Many_watchers_share_one_stream_subscription_which_is_dropped_after_the_last_leaves()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var hub = _server.Services.GetRequiredService<FeedHub>();
        var stream = StreamOf(id);
        using var reported = new ReportedCounters(_server.Services.GetRequiredService<IMeterFactory>());

        var watchers = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => ada.WatchAsync(id, 0)));
        await using (var post = await ada.PostAsync(id, "for everyone")) await post.ReadToEndAsync();
        foreach (var w in watchers) await w.ReadUntilAsync(e => e.Type == "message.completed");

        Assert.Equal(5, hub.Find(FeedSource.Conversation(id))!.WatcherCount); // the POST's own stream has ended
        Assert.Single(await stream.GetAllSubscriptionHandles());
        Assert.True(reported.Value("chatgrains.watchers") >= 5);
        Assert.True(reported.Value("chatgrains.stream_subscriptions") >= 1);

        foreach (var w in watchers) await w.DisposeAsync();
        await Infrastructure.Eventually.Until(() => Task.FromResult(hub.Find(FeedSource.Conversation(id))), f => f is null, TimeSpan.FromSeconds(10), "the feed closes after its grace period");
        // The hub forgets the feed first, then the feed unsubscribes.
        await Infrastructure.Eventually.Until(() => stream.GetAllSubscriptionHandles(), h => h.Count == 0, TimeSpan.FromSeconds(10), "the stream subscription is dropped");
    }

    [Fact]
    public async Task A_feed_whose_stream_goes_silent_catches_up_from_the_grain_and_resubscribes()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var watch = await ada.WatchAsync(id, 0);
        var stream = StreamOf(id);
        await Infrastructure.Eventually.Until(() => stream.GetAllSubscriptionHandles(), h => h.Count == 1, TimeSpan.FromSeconds(10), "the feed subscribes");

        // Lose the subscription behind the feed's back, as after a gateway loss.
        foreach (var handle in await stream.GetAllSubscriptionHandles()) await handle.UnsubscribeAsync();
        await using var post = await ada.PostAsync(id, "are you still listening?");
        var events = await post.ReadToEndAsync(TimeSpan.FromSeconds(10));
        await watch.ReadUntilAsync(e => e.Type == "message.completed", TimeSpan.FromSeconds(10));

        Assert.Equal("message.completed", events[^1].Type);
        Assert.Equal(events.Select(e => e.Id), watch.Events.Select(e => e.Id));
        Assert.Single(await stream.GetAllSubscriptionHandles());
    }

    [Fact]
    public async Task Replay_older_than_what_the_grain_and_feed_keep_in_memory_comes_from_the_store()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var post = await ada.PostAsync(id, "first")) await post.ReadToEndAsync();
        await using (var post = await ada.PostAsync(id, "second")) await post.ReadToEndAsync();
        var last = await ada.LastEventIdAsync(id);
        Assert.True(last > 20, "the log should be longer than the 8 events kept in memory");

        await using var watch = await ada.WatchAsync(id, 0);
        while (watch.Events.Count < last) await watch.NextAsync();
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long?)i), watch.Events.Select(e => e.Id));
    }

    private IAsyncStream<ConversationEvent> StreamOf(string id) =>
        _server.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ConversationStreams.Provider)
            .GetStream<ConversationEvent>(ConversationStreams.For(id));

    /// <summary>Reads the host's counters the way a metrics exporter would.</summary>
    private sealed class ReportedCounters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _values = [];

        public ReportedCounters(IMeterFactory host)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                // Only this host's meter: other hosts in the test process publish the same names.
                if (instrument.Meter.Name == FeedMetrics.MeterName && instrument.Meter.Scope == host) l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => _values[instrument.Name] = value);
            _listener.Start();
        }

        public long Value(string name)
        {
            _listener.RecordObservableInstruments();
            return _values.GetValueOrDefault(name);
        }

        public void Dispose() => _listener.Dispose();
    }
}
