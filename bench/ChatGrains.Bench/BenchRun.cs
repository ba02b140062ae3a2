using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
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
        var output = Path.GetFullPath(s.OutputDirectory ?? Path.Combine(root, "bench", "results", s.Quick ? "quick" : ""));
        Directory.CreateDirectory(output);
        var logs = Directory.CreateTempSubdirectory("chatgrains-bench-logs-").FullName;
        var clock = Stopwatch.StartNew();
        if (!s.NoBuild) Build(root);

        var results = new BenchResults(Machine.Describe(), s.Quick, DateTime.UtcNow, TimeSpan.Zero, [], [], [], [], []);
        Log($"{results.Machine}; server logs in {logs}");
        using var client = new LoadClient();
        var tokens = s.TokensPerSecond.ToString(CultureInfo.InvariantCulture);

        Task<Target> ChatGrains(params (string Key, string Value)[] settings) =>
            ChatGrainsTarget.StartAsync(root, logs, settings.ToDictionary(kv => kv.Key, kv => kv.Value)).ContinueWith(t => (Target)t.Result);
        Task<Target> Baseline() => BaselineTarget.StartAsync(logs, s.HeartbeatInterval, s.DeltaInterval).ContinueWith(t => (Target)t.Result);

        if (s.Runs("density"))
        {
            var heartbeat = ("Feeds:HeartbeatInterval", s.HeartbeatInterval.ToString("c", CultureInfo.InvariantCulture));
            foreach (var start in new[] { () => ChatGrains(heartbeat), Baseline })
            {
                await Run(results, "density", start, async t =>
                {
                    var d = await DensityScenario.RunAsync(t, client, s.DensityWatchers, s.DensityPerConversation, s.DensityHold, results.ViolationSamples);
                    results.Density.Add(d);
                    Log($"density {d.Target}: held {d.Held}/{d.Requested}, RSS {d.RssPerWatcherKb:F1} KB/watcher, heap {d.HeapPerWatcherKb:F1} KB/watcher, violations {d.Violations}");
                });
            }
        }

        var points = new List<(string Label, int Conversations, int PerConversation)>();
        if (s.Runs("fanout")) points.AddRange(s.SweepWatchersPerConversation.Select(w => ("sweep", s.SweepConversations, w)));
        if (s.Runs("replies") && s.Replies > 0) points.Add(("replies", s.Replies, 1));
        foreach (var (label, conversations, perConversation) in points)
        {
            var frameBytes = 0;
            foreach (var start in new[] { () => ChatGrains(("Generator:TokensPerSecond", tokens)), Baseline })
            {
                await Run(results, $"fan-out {conversations}×{perConversation}", start, async t =>
                {
                    var f = await FanOutScenario.RunAsync(t, client, label, conversations, perConversation, s.TokensPerSecond, s.Warmup, s.Window,
                        frameBytes, results.ViolationSamples);
                    // The baseline sends frames of the size ChatGrains sent in the same run.
                    if (frameBytes == 0) frameBytes = (int)Math.Round(f.MeanFrameBytes);
                    results.FanOut.Add(f);
                    Log($"fan-out {f.Target} {conversations}×{perConversation}: {f.DeliveredPerSecond:N0} events/s, p50 {f.Latency.P50:F1} ms, p99 {f.Latency.P99:F1} ms, " +
                        $"p99.9 {f.Latency.P999:F1} ms, server CPU {f.Cpu.Server:F0} %, load-gen {f.Cpu.Client:F0} %, other {f.Cpu.Other:F0} %, violations {f.Violations}");
                });
                if (frameBytes == 0) frameBytes = 120;
            }
        }

        if (s.Runs("storm"))
        {
            await Run(results, "resume storm", () => ChatGrains(("Generator:TokensPerSecond", tokens)), async t =>
            {
                var r = await ResumeStormScenario.RunAsync(t, client, s.StormConversations, s.StormPerConversation, s.Warmup, s.StormOutage, results.ViolationSamples);
                results.ResumeStorms.Add(r);
                Log($"resume storm {r.Target}: {r.Watchers} watchers, all caught up in {r.AllCaughtUpSeconds:F2} s (p50 {r.P50CaughtUpSeconds:F2} s), not caught up {r.NotCaughtUp}, violations {r.Violations}");
            });
        }

        var final = results with { Duration = clock.Elapsed };
        var charts = Charts.Write(final, output);
        var command = "dotnet run -c Release --project bench/ChatGrains.Bench --" + (args.Length > 0 ? " " + string.Join(' ', args) : "");
        var markdown = MarkdownReport.Render(final, charts, command);
        await File.WriteAllTextAsync(Path.Combine(output, "results.md"), markdown);
        await File.WriteAllTextAsync(Path.Combine(output, "results.json"), JsonSerializer.Serialize(final, new JsonSerializerOptions
        {
            WriteIndented = true,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Log($"results in {output}");
        var failed = final.TotalViolations > 0 || final.Errors.Count > 0;
        if (failed) Log($"FAILED: {final.TotalViolations} lost, doubled or reordered events; {final.Errors.Count} scenario errors");
        return failed ? 1 : 0;
    }

    private static async Task Run(BenchResults results, string scenario, Func<Task<Target>> start, Func<Target, Task> body)
    {
        Target? target = null;
        try
        {
            target = await start();
            Log($"{scenario}: {target.Name} started (pid {target.ProcessId})");
            await body(target);
            if (target.HasExited) throw new InvalidOperationException($"{target.Name} exited during the run:\n{target.LogTail()}");
        }
        catch (Exception ex)
        {
            results.Errors.Add($"{scenario} ({target?.Name ?? "start"}): {ex.GetType().Name}: {ex.Message}");
            Log($"{scenario} FAILED: {ex}");
            if (target is not null) Log(target.LogTail());
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

    private static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}
