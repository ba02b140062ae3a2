using ChatGrains.Hosting;
using ChatGrains.Silo;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;

namespace ChatGrains.Tests.Grains;

/// <summary>
/// A real two-silo Orleans cluster in this process, configured as production silos are
/// (the same services and streams), sharing one SQLite file. Subclasses add settings or silo
/// configuration (see <see cref="UserCluster"/>).
/// </summary>
public class ConversationCluster : IAsyncLifetime
{
    private readonly TempDirectory _data = new();

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IConversationGrain Conversation(string id) => Cluster.Client.GetGrain<IConversationGrain>(id);

    /// <summary>Settings beyond the SQLite file every silo shares.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:TokensPerSecond"] = "60",
    };

    /// <summary>Silo configuration beyond the production services and streams.</summary>
    protected virtual void ConfigureSilo(ISiloBuilder silo)
    {
    }

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        var settings = new Dictionary<string, string?>(Settings)
        {
            ["Storage:Sqlite:DataSource"] = _data.File("chatgrains.db"),
        };
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Configuration.AddInMemoryCollection(settings);
            host.AddConversationServices();
        });
        builder.ConfigureSilo((_, silo) => ConfigureSilo(silo.AddConversationStreams()));
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

    /// <summary>A conversation's whole event log, read from the grain (the truth), page by page.</summary>
    public Task<List<ConversationEvent>> LogAsync(string id) => ReadAllAsync(Conversation(id));

    protected static async Task<List<ConversationEvent>> ReadAllAsync(IEventLog log)
    {
        var events = new List<ConversationEvent>();
        while (true)
        {
            var page = await log.ReadEventsAsync(events.Count == 0 ? 0 : events[^1].Id, 1000);
            if (page.Events.Count == 0) return events;
            events.AddRange(page.Events);
        }
    }
}
