using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChatGrains.Bench.Floor;

namespace ChatGrains.Bench.Scenarios;

/// <summary>
/// Runs <see cref="StreamFloor"/> in a process of its own, at the replies scenario's rate, and
/// reads back its result: the part of ChatGrains' cost that is Orleans' alone.
/// </summary>
public static class StreamFloorScenario
{
    public static async Task<StreamFloorResult> RunAsync(string logDirectory, int streams, TimeSpan interval, int payloadBytes, TimeSpan warmup, TimeSpan window)
    {
        var log = Path.Combine(logDirectory, $"stream-floor-{DateTime.UtcNow:HHmmss}.log");
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
            typeof(StreamFloor).Assembly.Location, "stream-floor", $"--streams={streams}",
            $"--interval-ms={(long)interval.TotalMilliseconds}", $"--payload={payloadBytes}",
            $"--warmup-s={(long)warmup.TotalSeconds}", $"--window-s={(long)window.TotalSeconds}",
        })
        {
            info.ArgumentList.Add(a);
        }

        using var process = ChildProcesses.Start(info);
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync() is { } line) lines.Add(line);
        using var timeout = new CancellationTokenSource(warmup + window + TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        await File.WriteAllLinesAsync(log, [.. lines, await stderr]);

        var result = lines.LastOrDefault(l => l.StartsWith(StreamFloor.ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The stream floor exited {process.ExitCode} without a result; see {log}"));
        return JsonSerializer.Deserialize<StreamFloorResult>(result[StreamFloor.ResultPrefix.Length..], StreamFloor.Json)!;
    }
}
