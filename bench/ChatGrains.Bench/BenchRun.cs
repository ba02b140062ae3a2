using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Model;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Scenarios;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench;

/// <summary>
/// The whole run: build the Api, then each scenario against a freshly started server (ChatGrains,
/// then the baseline with the same load), then the report. Exits 1 if any watcher lost, doubled
/// or reordered an event, or a scenario could not run.
/// </summary>
public static class BenchRun
{
    public static async Task<int> RunAsync(BenchSettings s, string[] args)
    {
        var root = RepositoryRoot();
        // The full run's results are kept in the repository; a quick run's go where test results go (ignored).
        var output = Path.GetFullPath(s.OutputDirectory ?? (s.Quick ? Path.Combine(root, "TestResults", "bench-quick") : Path.Combine(root, "bench", "results")));
        Directory.CreateDirectory(output);
        var logs = Directory.CreateTempSubdirectory("chatgrains-bench-logs-").FullName;
        var clock = Stopwatch.StartNew();
        if (!s.NoBuild) Build(root);

        var results = new BenchResults(Machine.Describe(), s.Quick, DateTime.UtcNow, TimeSpan.Zero, [], [], [], [], [], [], []);
        Log($"{results.Machine}; server logs in {logs}");
        using var client = new LoadClient();
        var tokens = s.TokensPerSecond.ToString(CultureInfo.InvariantCulture);

        var heartbeat = s.HeartbeatInterval.ToString("c", CultureInfo.InvariantCulture);
        var serverSettings = new Dictionary<string, string>
        {
            ["Generator:TokensPerSecond"] = tokens,
            ["Feeds:HeartbeatInterval"] = heartbeat,
        };
        if (s.SqliteSynchronous is { } synchronous) serverSettings["Storage:Sqlite:Synchronous"] = synchronous;
        Task<Target> ChatGrains() => ChatGrainsTarget.StartAsync(root, logs, serverSettings).ContinueWith(t => (Target)t.Result);
        // The same server with replies from its OpenAI-compatible provider, streaming from a local fake model.
        async Task<Target> ChatGrainsOnModel()
        {
            var model = await FakeModel.StartAsync(logs, s.TokensPerSecond);
            try
            {
                var settings = new Dictionary<string, string>(serverSettings)
                {
                    ["Generator:Provider"] = "OpenAI",
                    ["Generator:Endpoint"] = model.Endpoint,
                    ["Generator:Model"] = "bench",
                };
                return await ChatGrainsTarget.StartAsync(root, logs, settings, model);
            }
            catch
            {
                await model.DisposeAsync();
                throw;
            }
        }
        Task<Target> Baseline() => BaselineTarget.StartAsync(logs, s.HeartbeatInterval, s.DeltaInterval).ContinueWith(t => (Target)t.Result);

        var steps = new List<Step>();
        if (s.Runs("density"))
        {
            steps.Add(new Step("density", false, async t =>
            {
                var d = await DensityScenario.RunAsync(t, client, s.DensityWatchers, s.DensityPerConversation, s.DensityHold, results.ViolationSamples);
                results.Density.Add(d);
                Log($"density {d.Target}: held {d.Held}/{d.Requested}, RSS {d.RssPerWatcherKb:F1} KB/watcher, heap {d.HeapPerWatcherKb:F1} KB/watcher, violations {d.Violations}");
            }));
        }
        var points = new List<(string Label, int Conversations, int PerConversation)>();
        if (s.Runs("fanout")) points.AddRange(s.SweepWatchersPerConversation.Select(w => ("sweep", s.SweepConversations, w)));
        if (s.Runs("replies") && s.Replies > 0) points.Add(("replies", s.Replies, 1));
        // The baseline sends frames of the size ChatGrains sent at the same point (ChatGrains runs first).
        var frameBytes = new Dictionary<(int, int), int>();
        foreach (var (label, conversations, perConversation) in points)
        {
            steps.Add(new Step($"fan-out {conversations}×{perConversation}", false, async t =>
            {
                var f = await FanOutScenario.RunAsync(t, client, label, conversations, perConversation, s.TokensPerSecond, s.Warmup, s.MaxWarmup, s.Window,
                    frameBytes.GetValueOrDefault((conversations, perConversation), 120), results.ViolationSamples);
                if (t is ChatGrainsTarget && f.MeanFrameBytes > 0) frameBytes[(conversations, perConversation)] = (int)Math.Round(f.MeanFrameBytes);
                results.FanOut.Add(f);
                LogFanOut(f);
            }));
        }
        if (s.Runs("replies") && s.Replies > 0 && !s.Quick)
        {
            steps.Add(new Step($"fan-out {s.Replies}×1 (OpenAI provider)", true, async t =>
            {
                var f = await FanOutScenario.RunAsync(t, client, "replies-openai", s.Replies, 1, s.TokensPerSecond, s.Warmup, s.MaxWarmup, s.Window, 0, results.ViolationSamples);
                results.FanOut.Add(f);
                LogFanOut(f);
            }, ChatGrainsOnModel));
        }
        if (s.Runs("storm"))
        {
            steps.Add(new Step("resume storm", true, async t =>
            {
                var r = await ResumeStormScenario.RunAsync(t, client, s.StormConversations, s.StormPerConversation, s.Warmup, s.StormOutage, results.ViolationSamples);
                results.ResumeStorms.Add(r);
                Log($"resume storm {r.Target}: {r.Watchers} watchers, all caught up in {r.AllCaughtUpSeconds:F2} s (p50 {r.P50CaughtUpSeconds:F2} s), not caught up {r.NotCaughtUp}, violations {r.Violations}");
            }));
        }

        if (s.Quick)
        {
            // One process per server for every scenario: small loads, and the point is correctness.
            await Run(results, "quick", ChatGrains, steps);
            await Run(results, "quick", Baseline, steps.Where(x => !x.ChatGrainsOnly).ToList());
        }
        else
        {
            // A fresh process for every measurement, so none inherits another's state or memory.
            foreach (var step in steps)
            {
                await Run(results, step.Name, step.Start ?? ChatGrains, [step]);
                if (!step.ChatGrainsOnly) await Run(results, step.Name, Baseline, [step]);
            }
        }

        if (!s.Quick && s.Runs("replies") && s.Replies > 0)
        {
            // What Orleans alone costs at the replies' rate: a grain timer and the stream hop.
            try
            {
                var f = await StreamFloorScenario.RunAsync(logs, s.Replies, s.DeltaInterval,
                    frameBytes.GetValueOrDefault((s.Replies, 1), 190), s.Warmup, s.Window);
                results.Floors.Add(f);
                Log($"Orleans floor {f.Streams}×1: {f.EventsPerSecond:N0} events/s, p50 {f.Latency.P50:F1} ms, p99 {f.Latency.P99:F1} ms, CPU {f.Cpu.Server:F0} %, violations {f.Violations}");
            }
            catch (Exception ex)
            {
                results.Errors.Add($"Orleans floor: {ex.GetType().Name}: {ex.Message}");
                Log($"Orleans floor FAILED: {ex}");
            }
        }

        if (s.Runs("long"))
        {
            // The grain's memory and snapshot time for a long conversation, before paging (by configuration) and after.
            try
            {
                foreach (var l in await LongConversationScenario.RunAsync(logs, s.LongMessages, s.LongConversations, s.LongSnapshots))
                {
                    results.LongConversations!.Add(l);
                    Log($"long conversations {l.Configuration}: {l.Conversations}×{l.Messages:N0} messages, {l.HeldMessages:N0} held each, " +
                        $"GC heap {l.HeapPerConversationMb:F2} MB per conversation, snapshot p50 {l.Snapshot.P50:F2} ms, p99 {l.Snapshot.P99:F2} ms, {l.SnapshotKb:N0} KB");
                }
            }
            catch (Exception ex)
            {
                results.Errors.Add($"long conversations: {ex.GetType().Name}: {ex.Message}");
                Log($"long conversations FAILED: {ex}");
            }
        }

        var final = results with { Duration = clock.Elapsed };
        var command = "dotnet run -c Release --project bench/ChatGrains.Bench --" + (args.Length > 0 ? " " + string.Join(' ', args) : "");
        var markdown = await WriteReportAsync(final, output, command);
        await File.WriteAllTextAsync(Path.Combine(output, "results.json"), JsonSerializer.Serialize(final, Json));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Log($"results in {output}");
        var failed = final.TotalViolations > 0 || final.Errors.Count > 0;
        if (failed) Log($"FAILED: {final.TotalViolations} lost, doubled or reordered events; {final.Errors.Count} scenario errors");
        return failed ? 1 : 0;
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The table and the charts, from results just measured or read back from a results.json.</summary>
    private static async Task<string> WriteReportAsync(BenchResults results, string output, string command)
    {
        var charts = Charts.Write(results, output);
        var markdown = MarkdownReport.Render(results, charts, command);
        await File.WriteAllTextAsync(Path.Combine(output, "results.md"), markdown);
        return markdown;
    }

    /// <summary><c>--render DIR</c>: redraws DIR's table and charts from its results.json, measuring nothing.</summary>
    public static async Task<int> RenderAsync(string directory)
    {
        var results = JsonSerializer.Deserialize<BenchResults>(await File.ReadAllTextAsync(Path.Combine(directory, "results.json")), Json)!;
        var md = await File.ReadAllTextAsync(Path.Combine(directory, "results.md"));
        var command = md.Split('`').ElementAtOrDefault(1) ?? "dotnet run -c Release --project bench/ChatGrains.Bench";
        await WriteReportAsync(results, directory, command);
        Log($"redrew {directory}");
        return 0;
    }

    /// <summary>A measurement; <see cref="Start"/> starts its ChatGrains server when it is not the default one.</summary>
    private sealed record Step(string Name, bool ChatGrainsOnly, Func<Target, Task> Body, Func<Task<Target>>? Start = null);

    private static async Task Run(BenchResults results, string scenario, Func<Task<Target>> start, IReadOnlyList<Step> steps)
    {
        Target? target = null;
        try
        {
            target = await start();
            Log($"{scenario}: {target.Name} started (pid {target.ProcessId})");
            foreach (var step in steps)
            {
                try
                {
                    await step.Body(target);
                }
                catch (Exception ex)
                {
                    results.Errors.Add($"{step.Name} ({target.Name}): {ex.GetType().Name}: {ex.Message}");
                    Log($"{step.Name} FAILED: {ex}");
                    Log(target.LogTail());
                }
                if (target.HasExited) throw new InvalidOperationException($"{target.Name} exited during the run:\n{target.LogTail()}");
            }
        }
        catch (Exception ex)
        {
            results.Errors.Add($"{scenario} ({target?.Name ?? "start"}): {ex.GetType().Name}: {ex.Message}");
            Log($"{scenario} FAILED: {ex}");
        }
        finally
        {
            if (target is not null) await target.DisposeAsync();
        }
    }

    private static void Build(string root)
    {
        Log("dotnet build -c Release Api");
        var build = Process.Start(new ProcessStartInfo("dotnet", ["build", "-c", "Release", Path.Combine(root, "Api"), "-nologo", "-v", "q"]))!;
        build.WaitForExit();
        if (build.ExitCode != 0) throw new InvalidOperationException("Building the Api failed.");
    }

    private static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ChatGrains.sln"))) return dir.FullName;
            }
        }
        throw new InvalidOperationException("Run the benchmark from the repository (ChatGrains.sln not found).");
    }

    private static void LogFanOut(FanOutResult f) =>
        Log($"fan-out {f.Target} {f.Label} {f.Conversations}×{f.WatchersPerConversation}: warm in {f.WarmupSeconds:F0} s (JIT {f.WarmupJitSeconds:F1} s), " +
            $"{f.DeliveredPerSecond:N0} events/s ({f.EventsPerCpuSecond:N0} per CPU-second), p50 {f.Latency.P50:F1} ms, p99 {f.Latency.P99:F1} ms, " +
            $"p99.9 {f.Latency.P999:F1} ms, server CPU {f.Cpu.Server:F0} %, load-gen {f.Cpu.Client:F0} %, other {f.Cpu.Other:F0} %, stolen {f.Cpu.Stolen:F0} %, violations {f.Violations}");

    internal static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
