namespace ChatGrains.Bench;

/// <summary>
/// What to run. The full run measures the targets on this 2-core machine (about 25
/// minutes); <c>--quick</c> runs every scenario small (under a minute) and exists to catch a
/// lost or reordered event in CI.
/// </summary>
public sealed record BenchSettings
{
    public bool Quick { get; init; }
    public string? OutputDirectory { get; init; }
    public bool NoBuild { get; init; }
    public HashSet<string> Only { get; init; } = [];

    /// <summary>The SQLite store's <c>Storage:Sqlite:Synchronous</c> (Full, Normal); null keeps the product's default.</summary>
    public string? SqliteSynchronous { get; init; }

    // Density
    public int DensityWatchers { get; init; } = 19_000;
    public int DensityPerConversation { get; init; } = 100;
    public TimeSpan DensityHold { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(15);

    // Fan-out sweep: C conversations, W watchers each, for each W
    public double TokensPerSecond { get; init; } = 50;
    public int SweepConversations { get; init; } = 100;
    public int[] SweepWatchersPerConversation { get; init; } = [1, 10, 50, 100, 190];
    public int Replies { get; init; } = 1000;
    /// <summary>
    /// The shortest warm-up. A saturated server starves its JIT's background thread, so a quiet
    /// JIT alone can mean "not yet compiled" rather than "compiled": the minimum covers that.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The longest a fan-out waits for the server's JIT to settle (<see cref="Measure.WarmUp"/>); the quick run does not wait.</summary>
    public TimeSpan MaxWarmup { get; init; } = TimeSpan.FromSeconds(150);
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(15);

    // Resume storm
    public int StormConversations { get; init; } = 100;
    public int StormPerConversation { get; init; } = 100;
    public TimeSpan StormOutage { get; init; } = TimeSpan.FromSeconds(1);

    // Long conversations: C conversations of M messages, S snapshots, before and after paging
    public int LongMessages { get; init; } = 10_000;
    public int LongConversations { get; init; } = 10;
    public int LongSnapshots { get; init; } = 200;

    /// <summary>The grain publishes a reply's tokens as one delta per this interval (Conversation:DeltaInterval's default).</summary>
    public TimeSpan DeltaInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    public bool Runs(string scenario) => Only.Count == 0 || Only.Contains(scenario);

    public static BenchSettings Parse(string[] args)
    {
        var settings = args.Contains("--quick") ? QuickRun : new BenchSettings();
        for (var i = 0; i < args.Length; i++)
        {
            settings = args[i] switch
            {
                "--quick" => settings,
                "--no-build" => settings with { NoBuild = true },
                "--out" when i + 1 < args.Length => settings with { OutputDirectory = args[++i] },
                "--only" when i + 1 < args.Length => settings with { Only = [.. args[++i].Split(',')] },
                "--density" when i + 1 < args.Length => settings with { DensityWatchers = int.Parse(args[++i]) },
                "--sweep" when i + 1 < args.Length => settings with { SweepWatchersPerConversation = [.. args[++i].Split(',').Select(int.Parse)] },
                "--synchronous" when i + 1 < args.Length => settings with { SqliteSynchronous = args[++i] },
                "--replies" when i + 1 < args.Length => settings with { Replies = int.Parse(args[++i]) },
                "--window" when i + 1 < args.Length => settings with { Window = TimeSpan.FromSeconds(double.Parse(args[++i])) },
                "--warmup" when i + 1 < args.Length => settings with { Warmup = TimeSpan.FromSeconds(double.Parse(args[++i])) },
                "--max-warmup" when i + 1 < args.Length => settings with { MaxWarmup = TimeSpan.FromSeconds(double.Parse(args[++i])) },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: [--quick] [--out DIR] [--no-build] [--only density,fanout,replies,storm,long] [--density N] [--sweep W1,W2,..] [--replies C] [--synchronous Full|Normal] [--warmup SECONDS] [--max-warmup SECONDS] [--window SECONDS]"),
            };
        }
        return settings;
    }

    private static readonly BenchSettings QuickRun = new()
    {
        Quick = true,
        DensityWatchers = 400,
        DensityHold = TimeSpan.FromSeconds(3),
        HeartbeatInterval = TimeSpan.FromSeconds(1),
        SweepConversations = 10,
        SweepWatchersPerConversation = [10],
        Replies = 0,
        Warmup = TimeSpan.FromSeconds(1.5),
        MaxWarmup = TimeSpan.FromSeconds(1.5),
        Window = TimeSpan.FromSeconds(4),
        StormConversations = 4,
        StormPerConversation = 50,
        StormOutage = TimeSpan.FromMilliseconds(500),
        LongMessages = 1_000,
        LongConversations = 2,
        LongSnapshots = 40,
    };
}
