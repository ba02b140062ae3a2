namespace ChatGrains.Tests.Grains;

/// <summary>
/// The two-silo cluster with the user grains' reconcile period short (so a lost notification
/// converges within a test) and a switch that drops every MemberNotifications call on arrival,
/// as a silo dying between a conversation's commit and its notifications would.
/// </summary>
public sealed class UserCluster : ConversationCluster
{
    /// <summary>While set, "conversation X changed for you" calls are lost.</summary>
    public static volatile bool DropNotifications;

    public IUserGrain User(string id) => Cluster.Client.GetGrain<IUserGrain>(id);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:TokensPerSecond"] = "200",
        ["Users:ReconcilePeriod"] = "00:00:00.500",
    };

    protected override void ConfigureSilo(ISiloBuilder silo) => silo.AddIncomingGrainCallFilter(async context =>
    {
        if (DropNotifications && context.InterfaceMethod?.Name == nameof(IUserGrain.ConversationChangedAsync)) return;
        await context.Invoke();
    });

    /// <summary>The user's whole event log, read from the grain.</summary>
    public Task<List<ConversationEvent>> UserLogAsync(string userId) => ReadAllAsync(User(userId));
}
