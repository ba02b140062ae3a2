using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChatGrains.Bench.Probes;

namespace ChatGrains.Bench.Scenarios;

/// <summary>
/// Runs <see cref="LongConversationProbe"/> twice in the same run, each in a process of its own:
/// configured as before paging (everything held, everything in the snapshot), then with the defaults.
/// </summary>
public static class LongConversationScenario
{
    public static async Task<List<LongConversationResult>> RunAsync(string logDirectory, int messages, int conversations, int snapshots)
    {
        var results = new List<LongConversationResult>();
        foreach (var all in new[] { true, false })
            results.Add(await RunProbeAsync(logDirectory, all, messages, conversations, snapshots));
        return results;
    }

    private static async Task<LongConversationResult> RunProbeAsync(string logDirectory, bool all, int messages, int conversations, int snapshots)
    {
        var log = Path.Combine(logDirectory, $"long-conversation-{(all ? "before" : "after")}-{DateTime.UtcNow:HHmmss}.log");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var a in new[]
        {
            typeof(LongConversationProbe).Assembly.Location, "long-conversation", $"--messages={messages}",
            $"--conversations={conversations}", $"--snapshots={snapshots}", $"--all={(all ? 1 : 0)}",
        })
        {
            info.ArgumentList.Add(a);
        }

        using var process = ChildProcesses.Start(info);
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync() is { } line) lines.Add(line);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        await File.WriteAllLinesAsync(log, [.. lines, await stderr]);

        var result = lines.LastOrDefault(l => l.StartsWith(LongConversationProbe.ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The long-conversation probe exited {process.ExitCode} without a result; see {log}"));
        return JsonSerializer.Deserialize<LongConversationResult>(result[LongConversationProbe.ResultPrefix.Length..], LongConversationProbe.Json)!;
    }
}
