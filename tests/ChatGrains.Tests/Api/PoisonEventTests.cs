using ChatGrains.Api.Feeds;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace ChatGrains.Tests.Api;

public sealed class PoisonEventFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        // Few events in memory, so replays and backfills read the store, where the bad rows are.
        ["Conversation:RecentEvents"] = "8",
        ["Feeds:RecentEvents"] = "8",
        // No feed asks its grain on its own while a test is still writing its bad row.
        ["Feeds:StallTimeout"] = "00:01:00",
        ["Feeds:IdleCheckInterval"] = "00:01:00",
    };
}

/// <summary>
/// A stored event that cannot be parsed (written straight into the service's SQLite file) ends
/// the streams that would have to replay it with <c>reset</c>; the conversation goes on, and
/// other conversations' watchers on the same host never notice.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class PoisonEventTests(PoisonEventFixture fixture) : IClassFixture<PoisonEventFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private readonly ApiServer _server = fixture.Server;

    [Theory]
    [InlineData("truncated")]
    [InlineData("unknown type")]
    [InlineData("no ids")]
    public async Task Replaying_over_an_unreadable_event_gets_reset_and_the_conversation_goes_on(string damage)
    {
        using var ada = await _server.SignInAsync("Ada");
        var poisoned = await ada.CreateConversationAsync("poisoned");
        var healthy = await ada.CreateConversationAsync("healthy");
        foreach (var id in new[] { poisoned, healthy })
        {
            // Two exchanges: more events than the grain and the feed keep in memory.
            await using (var post = await ada.PostAsync(id, "first")) await post.ReadToEndAsync();
            await using (var post = await ada.PostAsync(id, "second")) await post.ReadToEndAsync();
        }
        var last = await ada.LastEventIdAsync(poisoned);
        await DamageAsync(poisoned, eventId: 3, damage); // a delta of the first reply

        await using var replay = await ada.WatchAsync(poisoned, 0);
        var events = await replay.ReadToEndAsync(Deadline);

        var reset = Assert.Single(events);
        Assert.Equal("reset", reset.Type);
        Assert.Equal(last, reset.Data.GetProperty("lastEventId").GetInt64());

        // What the client does next: reload the snapshot (it never needed the log), resume from its id.
        var snapshot = await ada.SnapshotAsync(poisoned);
        Assert.Equal(last, snapshot.GetProperty("lastEventId").GetInt64());
        Assert.Equal(4, snapshot.GetProperty("messages").GetArrayLength());
        await using (var resumed = await ada.WatchAsync(poisoned, last))
        {
            await using var post = await ada.PostAsync(poisoned, "third");
            await resumed.ReadUntilAsync(e => e.Type == "message.completed", Deadline);
            Assert.Equal(Consecutive(last + 1, resumed.Events.Count), resumed.Events.Select(e => e.Id));
        }

        // A resume point after the bad event is served from the store as before.
        await using (var after = await ada.WatchAsync(poisoned, 3))
        {
            while (after.Events.Count < last - 3) await after.NextAsync(Deadline);
            Assert.Equal(Consecutive(4, (int)(last - 3)), after.Events.Select(e => e.Id));
        }

        // The other conversation on the same host replays in full.
        var healthyLast = await ada.LastEventIdAsync(healthy);
        await using var other = await ada.WatchAsync(healthy, 0);
        while (other.Events.Count < healthyLast) await other.NextAsync(Deadline);
        Assert.Equal(Consecutive(1, (int)healthyLast), other.Events.Select(e => e.Id));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("unknown type")]
    [InlineData("no ids")]
    public async Task A_feed_that_backfills_over_an_unreadable_event_resets_its_watchers_while_other_feeds_flow(string damage)
    {
        using var ada = await _server.SignInAsync("Ada");
        var poisoned = await ada.CreateConversationAsync("poisoned");
        var healthy = await ada.CreateConversationAsync("healthy");
        foreach (var id in new[] { poisoned, healthy })
        {
            await using var post = await ada.PostAsync(id, "hello");
            await post.ReadToEndAsync();
        }
        var before = await ada.LastEventIdAsync(poisoned);
        await using var poisonedWatch = await ada.WatchAsync(poisoned);
        await using var healthyWatch = await ada.WatchAsync(healthy);
        var stream = StreamOf(poisoned);
        await Eventually.Until(() => stream.GetAllSubscriptionHandles(), h => h.Count == 1, Deadline, "the feed subscribes");

        // The feed misses the next exchanges (its subscription lost behind its back, as after a
        // gateway loss); they are longer than what the grain keeps in memory.
        foreach (var handle in await stream.GetAllSubscriptionHandles()) await handle.UnsubscribeAsync();
        await ada.PostAcceptedAsync(poisoned, "one");
        await ada.PostAcceptedAsync(poisoned, "two");
        var last = await Eventually.Until(() => ada.SnapshotAsync(poisoned),
            s => s.GetProperty("messages").EnumerateArray().All(m => m.GetProperty("status").GetString() == "complete"),
            Deadline, "both replies complete");
        var head = last.GetProperty("lastEventId").GetInt64();
        await DamageAsync(poisoned, eventId: before + 1, damage); // the first missed prompt's message.created

        // Every feed on the host catches up from its grain.
        _server.Services.GetRequiredService<FeedHub>().ResyncAll();

        var events = await poisonedWatch.ReadToEndAsync(Deadline);
        var reset = Assert.Single(events);
        Assert.Equal("reset", reset.Type);
        Assert.Equal(head, reset.Data.GetProperty("lastEventId").GetInt64());

        // The other conversation's watcher, on the same host, still gets its events live.
        var healthyLast = await ada.LastEventIdAsync(healthy);
        await ada.PostAcceptedAsync(healthy, "still there?");
        await healthyWatch.ReadUntilAsync(e => e.Type == "message.completed", Deadline);
        Assert.Equal(Consecutive(healthyLast + 1, healthyWatch.Events.Count), healthyWatch.Events.Select(e => e.Id));

        // And the reset conversation's feed flows again from its head.
        await using var rewatch = await ada.WatchAsync(poisoned, head);
        await ada.PostAcceptedAsync(poisoned, "three");
        await rewatch.ReadUntilAsync(e => e.Type == "message.completed", Deadline);
        Assert.Equal(Consecutive(head + 1, rewatch.Events.Count), rewatch.Events.Select(e => e.Id));
    }

    /// <summary>Rewrites one stored event as a damaged disk, a bad migration or a hand edit might leave it.</summary>
    private async Task DamageAsync(string conversationId, long eventId, string damage)
    {
        var change = damage switch
        {
            "truncated" => "data = substr(data, 1, length(data) / 2)",
            "unknown type" => "type = 'message.edited'",
            "no ids" => "data = '{}'",
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        var file = Path.Combine(_server.DataDirectory, "chatgrains.db");
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"UPDATE events SET {change} WHERE conversation_id = $c AND id = $id";
        command.Parameters.AddWithValue("$c", conversationId);
        command.Parameters.AddWithValue("$id", eventId);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static IEnumerable<long?> Consecutive(long first, int count) => Enumerable.Range(0, count).Select(i => (long?)(first + i));

    private IAsyncStream<ConversationEvent> StreamOf(string id) =>
        _server.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ConversationStreams.Provider)
            .GetStream<ConversationEvent>(ConversationStreams.For(id));
}
