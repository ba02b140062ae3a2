using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Api;

/// <summary>
/// The conversation store away while a watch stream replays from the grain (as when PostgreSQL
/// stops): the client keeps its stream and gets every event once the store is back.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class StoreAwayStreamTests(StoreAwayFixture fixture) : IClassFixture<StoreAwayFixture>
{
    [Fact]
    public async Task A_watch_whose_replay_meets_a_store_outage_keeps_its_stream_and_gets_every_event_once_the_store_is_back()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        // Answered 202, so no feed on this host holds the events: a watch from 0 replays them from the grain.
        await ada.PostAcceptedAsync(id, "before the outage");
        var snapshot = await Eventually.Until(() => ada.SnapshotAsync(id),
            s => s.GetProperty("messages")[1].GetProperty("status").GetString() == "complete", TimeSpan.FromSeconds(30), "the reply completes");
        var last = snapshot.GetProperty("lastEventId").GetInt64();

        fixture.Store.IsAway = true;
        try
        {
            await using var watch = await ada.WatchAsync(id, 0);
            await Eventually.Until(() => Task.FromResult(fixture.Store.Refused), n => n >= 2, TimeSpan.FromSeconds(20), "the replay is refused twice while the store is away");
            fixture.Store.IsAway = false;

            await watch.ReadUntilAsync(e => e.Id == last, TimeSpan.FromSeconds(20));
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long?)i), watch.Events.Select(e => e.Id));
        }
        finally
        {
            fixture.Store.IsAway = false;
        }
    }
}

public sealed class StoreAwayFixture : ApiServerFixture
{
    public StoreAway Store { get; } = new();

    protected override Action<IServiceCollection> ConfigureServices => services => services.AddSingleton<IOutgoingGrainCallFilter>(Store);
}

/// <summary>While away, refuses the grain's event reads as the store does when its database is down.</summary>
public sealed class StoreAway : IOutgoingGrainCallFilter
{
    private int _refused;

    public volatile bool IsAway;

    public int Refused => Volatile.Read(ref _refused);

    public Task Invoke(IOutgoingGrainCallContext call)
    {
        // The feed's own look at the log's end (after long.MaxValue) still works: only replays fail.
        if (IsAway && call.MethodName == nameof(IConversationGrain.ReadEventsAsync) && call.Request.GetArgument(0) is long after && after != long.MaxValue)
        {
            Interlocked.Increment(ref _refused);
            throw ConversationException.StoreUnavailable();
        }
        return call.Invoke();
    }
}
