using ChatGrains.Silo;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace ChatGrains.Tests.Grains;

/// <summary>
/// A real two-silo cluster configured as production silos are, with a budget of one token per
/// user per day (any reply puts its payer over) and a wall clock the tests can move (see
/// <see cref="ShiftedClock"/>), shared by every silo's grains.
/// </summary>
public sealed class BudgetCluster : IAsyncLifetime
{
    private readonly TempDirectory _data = new();

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public ShiftedClock Clock { get; } = new();

    public IConversationGrain Conversation(string id) => Cluster.Client.GetGrain<IConversationGrain>(id);

    public IUserGrain User(string id) => Cluster.Client.GetGrain<IUserGrain>(id);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Sqlite:DataSource"] = _data.File("chatgrains.db"),
            ["Generator:TokensPerSecond"] = "200",
            ["Limits:TokensPerUserPerDay"] = "1",
        };
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Configuration.AddInMemoryCollection(settings);
            host.AddConversationServices();
            host.Services.AddSingleton<TimeProvider>(Clock);
        });
        builder.ConfigureSilo((_, silo) => silo.AddConversationStreams());
        builder.ConfigureClient(client => client.AddConversationStreams());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        _data.Dispose();
    }

    /// <summary>A conversation's whole log.</summary>
    public async Task<List<ConversationEvent>> LogAsync(string id)
    {
        var events = new List<ConversationEvent>();
        while (true)
        {
            var page = await Conversation(id).ReadEventsAsync(events.Count == 0 ? 0 : events[^1].Id, 1000);
            if (page.Events.Count == 0) return events;
            events.AddRange(page.Events);
        }
    }
}

/// <summary>
/// The system clock moved by an offset, for the wall time only (<see cref="GetUtcNow"/>): timers
/// and timestamps stay real, so replies stream at their pace while the day can be made to end.
/// </summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    /// <summary>Makes it <paramref name="now"/> from here on, as the clock runs.</summary>
    public void Set(DateTimeOffset now) => Interlocked.Exchange(ref _offsetTicks, (now - System.GetUtcNow()).Ticks);

    public void Reset() => Interlocked.Exchange(ref _offsetTicks, 0);
}
