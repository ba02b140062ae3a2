using ChatGrains.Conversation;
using ChatGrains.Generation;
using ChatGrains.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace ChatGrains.Silo;

/// <summary>
/// Everything a silo needs, in one place: the Silo host calls it, and so does the Api when it
/// co-hosts the silo in embedded mode, so both run the same configuration.
/// </summary>
public static class SiloHosting
{
    /// <summary>The embedded single-node silo: localhost clustering, SQLite, the embedded generator.</summary>
    public static IHostApplicationBuilder AddConversationSilo(this IHostApplicationBuilder builder)
    {
        builder.AddConversationServices();
        var siloPort = builder.Configuration.GetValue("Orleans:SiloPort", 11111);
        var gatewayPort = builder.Configuration.GetValue("Orleans:GatewayPort", 30000);
        builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort).AddConversationStreams());
        return builder;
    }

    /// <summary>What the conversation grains depend on: options, the store, the reply generator.</summary>
    public static IHostApplicationBuilder AddConversationServices(this IHostApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var services = builder.Services;

        services.AddOptions<ConversationOptions>().Bind(config.GetSection(ConversationOptions.SectionName))
            .Validate(o => o.DeltaInterval > TimeSpan.Zero && o.RecentEvents > 0 && o.RetainedEvents >= 10_000,
                "Conversation: DeltaInterval must be positive, RecentEvents positive, RetainedEvents at least 10000.")
            .ValidateOnStart();
        services.AddOptions<GeneratorOptions>().Bind(config.GetSection(GeneratorOptions.SectionName))
            .Validate(o => o.Provider.Equals("Embedded", StringComparison.OrdinalIgnoreCase),
                "Generator:Provider: only 'Embedded' is available in this build.")
            .ValidateOnStart();
        services.AddOptions<SqliteStoreOptions>().Bind(config.GetSection("Storage:Sqlite"))
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataSource), "Storage:Sqlite:DataSource must name a file.")
            .ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IChatClient, EmbeddedChatClient>();
        services.AddSingleton<ReplyGenerator>();
        services.AddSingleton(sp => new SqliteConversationStore(sp.GetRequiredService<IOptions<SqliteStoreOptions>>().Value));
        services.AddSingleton<IConversationStore>(sp => sp.GetRequiredService<SqliteConversationStore>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreInitializer>();
        return builder;
    }

    /// <summary>The conversations' event streams, on silos and on the co-hosted client alike.</summary>
    public static ISiloBuilder AddConversationStreams(this ISiloBuilder silo) => silo
        .AddMemoryGrainStorage("PubSubStore")
        .AddMemoryStreams(ConversationStreams.Provider, streams => streams.ConfigurePullingAgent(agent => agent.Configure(o =>
        {
            // The default 100 ms poll delivers tokens in clumps; 10 ms keeps them smooth.
            o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(10);
            o.BatchContainerBatchSize = 16;
        })));

    /// <summary>Creates or migrates the schema before the silo lets any grain activate.</summary>
    private sealed class StoreInitializer(IConversationStore store) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(StoreInitializer), ServiceLifecycleStage.RuntimeInitialize, store.InitializeAsync);
    }
}
