using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Grains;

/// <summary>
/// The two-silo cluster with a budget of one token per user per day (any reply puts its payer
/// over) and a wall clock the tests can move (see <see cref="ShiftedClock"/>), shared by every
/// silo's grains.
/// </summary>
public sealed class BudgetCluster : ConversationCluster
{
    public ShiftedClock Clock { get; } = new();

    public IUserGrain User(string id) => Cluster.Client.GetGrain<IUserGrain>(id);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        // Slow enough that a reply is still streaming a few deltas in when a test kills its silo
        // (at 200 a whole reply once fit in one delta on a busy CI machine).
        ["Generator:TokensPerSecond"] = "60",
        ["Limits:TokensPerUserPerDay"] = "1",
    };

    // After the production services: this TimeProvider is the one every grain is given.
    protected override void ConfigureSilo(ISiloBuilder silo) => silo.Services.AddSingleton<TimeProvider>(Clock);
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
