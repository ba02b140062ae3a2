using ChatGrains.Storage;
using ChatGrains.Tests.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace ChatGrains.Tests.LongConversations;

/// <summary>
/// The two-silo cluster with a small memory window (20 messages, 3 idempotency keys) so that a
/// test can make messages leave memory quickly, fast replies, and a wall clock the tests can move
/// (for the keys' retention).
/// </summary>
public sealed class LongConversationCluster : ConversationCluster
{
    public const int Window = 20;

    public ShiftedClock Clock { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:TokensPerSecond"] = "1000",
        ["Conversation:RecentMessages"] = Window.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Conversation:HeldIdempotencyKeys"] = "3",
    };

    // After the production services: this TimeProvider is the one every grain is given.
    protected override void ConfigureSilo(ISiloBuilder silo) => silo.Services.AddSingleton<TimeProvider>(Clock);

    /// <summary>The store the silos share (one SQLite file), as the first silo's grains use it.</summary>
    public IConversationStore Store => ((InProcessSiloHandle)Cluster.Silos[0]).SiloHost.Services.GetRequiredService<IConversationStore>();
}
