using System.Diagnostics;
using System.Text.Json;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Targets;
using ChatGrains.Silo;
using ChatGrains.Storage;
using HdrHistogram;

namespace ChatGrains.Bench.Probes;

/// <summary>
/// What a long conversation costs its silo: one silo with ChatGrains' own services (SQLite), N
/// conversations of M messages each written straight to its store (one thread of prompts and
/// replies), then the GC heap after a full collection before and after activating them all, and
/// the time of a snapshot (the grain call and its JSON, as the API host writes it) over many
/// calls. <c>--all=1</c> configures it as the code before paging was: every message held
/// (<c>Conversation:RecentMessages</c> unbounded) and every message in the snapshot; otherwise the
/// defaults (the latest 200 held, 200 in a snapshot). Runs as its own process, one configuration
/// per process, so neither measures the other's garbage: <c>ChatGrains.Bench long-conversation …</c>;
/// its last line of output is the result as JSON.
/// </summary>
public static class LongConversationProbe
{
    public const string ResultPrefix = "LONG ";
    private const string Owner = "bench-owner";

    public static async Task<int> RunAsync(string[] args)
    {
        var messages = (int)ChildArgs.Long(args, "--messages", 10_000);
        var conversations = (int)ChildArgs.Long(args, "--conversations", 10);
        var snapshots = (int)ChildArgs.Long(args, "--snapshots", 200);
        var all = ChildArgs.Long(args, "--all", 0) == 1;
        var limit = all ? int.MaxValue : Paging.DefaultLimit;

        var data = Directory.CreateTempSubdirectory("chatgrains-bench-long-");
        try
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var settings = new Dictionary<string, string?> { ["Storage:Sqlite:DataSource"] = Path.Combine(data.FullName, "long.db") };
            if (all) settings["Conversation:RecentMessages"] = int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.Configuration.AddInMemoryCollection(settings);
            builder.AddConversationServices();
            builder.UseOrleans(silo => silo.UseLocalhostClustering(Target.FreePort(), Target.FreePort()).AddConversationStreams());
            using var host = builder.Build();
            await host.StartAsync();
            var store = host.Services.GetRequiredService<IConversationStore>();
            var client = host.Services.GetRequiredService<IClusterClient>();

            var ids = Enumerable.Range(0, conversations).Select(i => $"long-{i}").ToList();
            foreach (var id in ids) await SeedAsync(store, id, messages);

            // The first activation pays for what every later one shares (code, pools, caches): not measured.
            await SeedAsync(store, "warm-up", messages);
            await client.GetGrain<IConversationGrain>("warm-up").GetSnapshotAsync(Owner, limit);

            var before = HeapAfterFullCollection();
            var held = 0;
            foreach (var id in ids) held += (await client.GetGrain<IConversationGrain>(id).GetFootprintAsync()).Messages;
            var after = HeapAfterFullCollection();

            var histogram = new LongHistogram(TimeSpan.FromMinutes(1).Ticks / 10, 3);
            long bytes = 0;
            for (var i = -ids.Count; i < snapshots; i++) // one unmeasured snapshot per conversation first
            {
                var started = Stopwatch.GetTimestamp();
                var snapshot = await client.GetGrain<IConversationGrain>(ids[(i + ids.Count) % ids.Count]).GetSnapshotAsync(Owner, limit);
                var json = JsonSerializer.SerializeToUtf8Bytes(snapshot, JsonSerializerOptions.Web);
                if (i < 0) continue;
                histogram.RecordValue((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                bytes += json.Length;
            }

            var result = new LongConversationResult(all ? "before (all held, all in the snapshot)" : "after (defaults)", messages, conversations,
                held / (double)conversations, (after - before) / (double)conversations / (1024 * 1024), Latency.From(histogram),
                bytes / (double)snapshots / 1024);
            Console.WriteLine(ResultPrefix + JsonSerializer.Serialize(result, Json));
            await host.StopAsync();
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static long HeapAfterFullCollection()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>One thread of <paramref name="count"/> messages (prompts of about a sentence, replies of a paragraph), as the service stores them.</summary>
    private static async Task SeedAsync(IConversationStore store, string id, int count)
    {
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % 10));
        var rows = new List<StoredMessage>(count);
        string? parent = null;
        for (var n = 1; n <= count; n++)
        {
            var prompt = n % 2 == 1;
            var message = prompt
                ? new Message($"m{n}", Roles.User, Owner, "Bench", $"Prompt {n}: how do grains keep state?", MessageStatus.Complete, null, now, ParentId: parent)
                : new Message($"m{n}", Roles.Assistant, "assistant", "Assistant", string.Concat(Enumerable.Repeat($"Reply {n} explains grains. ", 12)),
                    MessageStatus.Complete, parent, now, Usage: new Usage(100, 80), ParentId: parent);
            rows.Add(new StoredMessage(message, n, prompt ? 0 : n, prompt ? null : Owner));
            parent = message.Id;
        }
        await store.CommitAsync(new ConversationCommit(id, new ConversationInfo(id, "Long", Owner, now), [],
            [new StoredMember(new Member(Owner, "Bench", MemberRoles.Owner), 0)], rows, [], [], count, now, Head: rows[^1].Message.Id));
    }
}

/// <summary>
/// One configuration's figures: messages each conversation holds in memory, GC heap per activated
/// conversation, and the snapshot's time and size.
/// </summary>
public sealed record LongConversationResult(
    string Configuration, int Messages, int Conversations, double HeldMessages, double HeapPerConversationMb, Latency Snapshot, double SnapshotKb);
