using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Scenarios;

/// <summary>
/// Fan-out: C conversations replying at once, W watchers on each. Over a measurement window
/// after a warm-up (until the server's JIT has settled, see <see cref="WarmUp"/>): events delivered per second (all watchers), creation-to-receive latency of
/// every event, CPU of the server, of the load generator and of everything else on the machine.
/// Afterwards every watcher must have every id up to its conversation's latest, in order.
/// </summary>
public static class FanOutScenario
{
    public static async Task<FanOutResult> RunAsync(Target target, LoadClient client, string label, int conversations, int perConversation,
        double tokensPerSecond, TimeSpan warmup, TimeSpan maxWarmup, TimeSpan window, int frameBytes, List<string> violationSamples)
    {
        var recording = new Recording();
        var ids = await target.CreateConversationsAsync(conversations);
        var fleet = await Fleet.ConnectAsync(target, client, ids, perConversation, recording);
        await target.StartRepliesAsync(ids, frameBytes);
        var (warmedIn, jit) = await WarmUp.UntilJitSettlesAsync(target, warmup, maxWarmup);

        // Printed so that a profiler can be attached for just the window (README, "Where the CPU goes").
        BenchRun.Log($"{target.Name} {label}: warm, measuring for {window.TotalSeconds:F0} s (server pid {target.ProcessId})");
        var before = CpuReading.Take(target.ProcessId);
        recording.Open();
        await Task.Delay(window);
        recording.Close();
        var after = CpuReading.Take(target.ProcessId);

        await target.StopRepliesAsync();
        await fleet.VerifyCompleteAsync(recording, TimeSpan.FromSeconds(30));
        var serverClosed = fleet.Watchers.Sum(w => (long)w.ServerClosed);
        await fleet.DropAllAsync();

        var events = fleet.Watchers.Sum(w => w.EventsInWindow);
        var bytes = fleet.Watchers.Sum(w => w.BytesInWindow);
        violationSamples.AddRange(recording.Violations.Select(v => $"{target.Name} {label}: {v}"));
        return new FanOutResult(target.Name, label, conversations, perConversation, tokensPerSecond,
            events / (after.At - before.At).TotalSeconds, Latency.From(recording.Latency), CpuReading.Between(before, after),
            events == 0 ? 0 : (double)bytes / events, recording.ViolationCount, fleet.FailedToConnect, serverClosed,
            warmedIn.TotalSeconds, jit / 1000);
    }
}
