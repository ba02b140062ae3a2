using ChatGrains.Conversation;
using ChatGrains.Generation;
using ChatGrains.Hosting;
using ChatGrains.Storage;
using ChatGrains.Telemetry;
using ChatGrains.Users;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Runtime;

namespace ChatGrains.Silo;

/// <summary>
/// Everything a silo needs, in one place: the Silo host calls it, and so does the Api when it
/// co-hosts the silo in embedded mode (Api/Extensions/CoHosting.cs, the only file of the Api
/// that sees this project), so both run the same configuration.
/// </summary>
public static class SiloHosting
{
    /// <summary>
    /// A silo: the embedded single node (localhost clustering, SQLite) when no cluster is
    /// configured, else a member of the Redis-managed cluster keeping conversations in PostgreSQL.
    /// </summary>
    public static IHostApplicationBuilder AddConversationSilo(this IHostApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var cluster = ClusterSettings.From(config);
        cluster.ValidateForSilo();
        builder.AddConversationServices(cluster);

        var siloPort = config.GetValue("Orleans:SiloPort", 11111);
        var gatewayPort = config.GetValue("Orleans:GatewayPort", 30000);
        var drain = config.GetValue("Orleans:DrainTimeout", cluster.IsCluster ? TimeSpan.FromSeconds(30) : TimeSpan.Zero);
        // Stopping waits for replies in progress (the drain), then for Orleans to hand over.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(30));
        builder.Services.Configure<ReplyDrainOptions>(o => o.Timeout = drain);

        builder.UseOrleans(silo =>
        {
            // Grain calls carry the caller's trace; the dashboard's grains and profiler (it
            // profiles only while someone looks at the dashboard) serve the API hosts' /dashboard.
            silo.AddActivityPropagation().AddDashboard(o => o.HideTrace = true);
            if (!cluster.IsCluster)
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort).AddConversationStreams();
                return;
            }
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster.ClusterId, cluster.ServiceId))
                .UseRedisClustering(cluster.Redis!)
                .ConfigureEndpoints(ClusterSettings.AdvertisedAddress(config), siloPort, gatewayPort, listenOnAnyHostAddress: true)
                .Configure<ClusterMembershipOptions>(o =>
                {
                    // A killed silo is declared dead after two missed 2 s probes, by two silos'
                    // votes: about 5 s, so a conversation it hosted comes back, and its
                    // interrupted reply ends, well within 30 s. Two votes (indirect probes are on
                    // by default) keep one slow or partitioned prober from evicting a healthy silo.
                    o.ProbeTimeout = TimeSpan.FromSeconds(2);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 2;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
                })
                // Calls lost with a dying silo fail in 10 s rather than 30 (none legitimately takes long).
                .Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10))
                .AddRedisGrainStorage(PubSubStore, o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(cluster.Redis!))
                .AddConversationStreams(pubSubInMemory: false);
            // The default grain directory is eventually consistent: a killed silo takes its share
            // of the directory with it, and every grain registered there, wherever it runs, is
            // deactivated, so a reply in progress on a healthy silo would end 'failed'. The
            // strongly consistent directory rebuilds a lost range from the silos that survive.
            // (Still marked experimental in Orleans 10; Orleans' own test cluster offers it as a
            // switch.)
#pragma warning disable ORLEANSEXP003
            silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
            // After a crash it holds back new activations in the dead silo's ranges for this long
            // from the estimated moment of failure, in case the silo is not dead but cut off. The
            // default 30 s outlasts a 10 s call, so a conversation created just after a silo died
            // failed with a timeout. 10 s leaves about 5 s after the death is declared (that is
            // when a silo cut off finds itself declared dead and stops); a conversation's store
            // fences out a second activation anyway (its event ids are a primary key).
            silo.Configure<GrainDirectoryOptions>(o => o.RangeLeaseDuration = TimeSpan.FromSeconds(10));
        });
        // Orleans cannot rebuild the Redis membership table if Redis loses it; the silos do.
        if (cluster.IsCluster) builder.Services.AddHostedService<MembershipRestorer>();
        // A draining silo is not ready (the host's own checks are HealthEndpoints').
        builder.Services.AddHealthChecks().AddCheck<DrainingCheck>("draining", tags: [HealthEndpoints.Ready]);
        return builder;
    }

    /// <summary>What the conversation grains depend on: options, the store, the reply generator.</summary>
    internal static IHostApplicationBuilder AddConversationServices(this IHostApplicationBuilder builder, ClusterSettings? cluster = null)
    {
        cluster ??= ClusterSettings.From(builder.Configuration);
        var config = builder.Configuration;
        var services = builder.Services;

        services.AddOptions<ConversationOptions>().Bind(config.GetSection(ConversationOptions.SectionName))
            .Validate(o => o.DeltaInterval > TimeSpan.Zero && o.RecentEvents > 0 && o.RetainedEvents >= 10_000,
                "Conversation: DeltaInterval must be positive, RecentEvents positive, RetainedEvents at least 10000.")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        // The model behind the replies (Generator:Provider), its settings checked at start.
        services.AddReplyGenerator(config.GetSection(GeneratorOptions.SectionName));
        services.AddSingleton<ReplyDrain>();
        services.AddSingleton<ConversationTelemetry>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ReplyDrain>());
        services.AddOptions<UserOptions>().Bind(config.GetSection(UserOptions.SectionName))
            .Validate(o => o.UpdateInterval > TimeSpan.Zero && o.ReconcilePeriod > TimeSpan.Zero && o.RetainedEvents >= 1000,
                "Users: UpdateInterval and ReconcilePeriod must be positive, RetainedEvents at least 1000.")
            .ValidateOnStart();
        services.AddOptions<TokenBudgetOptions>().Bind(config.GetSection(TokenBudgetOptions.SectionName))
            .Validate(o => o.TokensPerUserPerDay >= 0, "Limits:TokensPerUserPerDay must be 0 (no limit) or more.")
            .ValidateOnStart();
        Func<IServiceProvider, IConversationStore> store;
        Func<IServiceProvider, IUserStore> userStore;
        if (cluster.Postgres is { } postgres)
        {
            store = _ => new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = postgres });
            userStore = _ => new PostgresUserStore(new PostgresStoreOptions { ConnectionString = postgres });
        }
        else
        {
            services.AddOptions<SqliteStoreOptions>().Bind(config.GetSection("Storage:Sqlite"))
                .Validate(o => !string.IsNullOrWhiteSpace(o.DataSource), "Storage:Sqlite:DataSource must name a file.")
                .Validate(o => Enum.IsDefined(o.Synchronous), "Storage:Sqlite:Synchronous must be Full, Extra or Normal.")
                .Validate(o => o.WriterCacheMegabytes is >= 1 and <= 65536, "Storage:Sqlite:WriterCacheMegabytes must be 1–65536.")
                .Validate(o => o.CheckpointPages >= 100, "Storage:Sqlite:CheckpointPages must be at least 100.")
                .ValidateOnStart();
            // One file, one writer: the user store writes through the conversation store's connection.
            services.AddSingleton(sp => new SqliteConversationStore(sp.GetRequiredService<IOptions<SqliteStoreOptions>>().Value));
            store = sp => sp.GetRequiredService<SqliteConversationStore>();
            userStore = sp => new SqliteUserStore(sp.GetRequiredService<SqliteConversationStore>());
        }
        services.AddSingleton<IConversationStore>(sp => new WireSafeStore(store(sp), sp.GetRequiredService<ILogger<WireSafeStore>>()));
        // The user store's tables come with the conversation store's migrations (StoreInitializer).
        services.AddSingleton<IUserStore>(sp => new WireSafeUserStore(userStore(sp), sp.GetRequiredService<ILogger<WireSafeUserStore>>()));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreInitializer>();
        return builder;
    }

    private const string PubSubStore = "PubSubStore";

    /// <summary>
    /// The conversations' event streams. The stream's subscriber lists live in the
    /// <c>PubSubStore</c>: in memory on a single node, in Redis in a cluster (so they survive
    /// the loss of a silo).
    /// </summary>
    internal static ISiloBuilder AddConversationStreams(this ISiloBuilder silo, bool pubSubInMemory = true)
    {
        if (pubSubInMemory) silo.AddMemoryGrainStorage(PubSubStore);
        return silo.AddMemoryStreams(ConversationStreams.Provider, streams =>
        {
            streams.ConfigurePartitioning(StreamHosting.Queues);
            streams.ConfigurePullingAgent(agent => agent.Configure(o =>
            {
                // The default 100 ms poll delivers tokens in clumps; 10 ms keeps them smooth.
                o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(10);
                o.BatchContainerBatchSize = 16;
            }));
        });
    }

    /// <summary>
    /// Creates or migrates the schema before the silo lets any grain activate, and says whether
    /// commits survive power loss: when they do not, an id a client saw may be handed out again.
    /// </summary>
    private sealed class StoreInitializer(IConversationStore store, ILogger<IConversationStore> logger) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(StoreInitializer), ServiceLifecycleStage.RuntimeInitialize, InitializeAsync);

        private async Task InitializeAsync(CancellationToken cancellationToken)
        {
            await store.InitializeAsync(cancellationToken);
            var durability = await store.ReadDurabilityAsync(cancellationToken);
            if (durability.CommitWaitsForDisk)
                logger.LogInformation("Conversation store: {Settings}; every commit is on disk before it is published", durability.Settings);
            else
                logger.LogWarning("Conversation store: {Settings}; commits are not synced to disk, so a power loss or OS crash can lose the latest events and reuse their ids", durability.Settings);
        }
    }
}
