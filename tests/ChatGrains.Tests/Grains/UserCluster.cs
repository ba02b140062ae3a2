using ChatGrains.Silo;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;

namespace ChatGrains.Tests.Grains;

/// <summary>
/// A real two-silo cluster configured as production silos are, with the user grains'
/// reconcile period short (so a lost notification converges within a test) and a switch that
/// drops every MemberNotifications call on arrival, as a silo dying between a conversation's
/// commit and its notifications would.
/// </summary>
public sealed class UserCluster : IAsyncLifetime
{
    private readonly TempDirectory _data = new();

    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>While set, "conversation X changed for you" calls are lost.</summary>
    public static volatile bool DropNotifications;

    public IConversationGrain Conversation(string id) => Cluster.Client.GetGrain<IConversationGrain>(id);

    public IUserGrain User(string id) => Cluster.Client.GetGrain<IUserGrain>(id);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Sqlite:DataSource"] = _data.File("chatgrains.db"),
            ["Generator:TokensPerSecond"] = "200",
            ["Users:ReconcilePeriod"] = "00:00:00.500",
        };
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Configuration.AddInMemoryCollection(settings);
            host.AddConversationServices();
        });
        builder.ConfigureSilo((_, silo) => silo.AddConversationStreams().AddIncomingGrainCallFilter(async context =>
        {
            if (DropNotifications && context.InterfaceMethod?.Name == nameof(IUserGrain.ConversationChangedAsync)) return;
            await context.Invoke();
        }));
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

    /// <summary>The user's whole event log, read from the grain.</summary>
    public async Task<List<ConversationEvent>> UserLogAsync(string userId)
    {
        var events = new List<ConversationEvent>();
        while (true)
        {
            var page = await User(userId).ReadEventsAsync(events.Count == 0 ? 0 : events[^1].Id, 1000);
            if (page.Events.Count == 0) return events;
            events.AddRange(page.Events);
        }
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
