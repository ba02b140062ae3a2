using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Scenarios;

/// <summary>
/// Resume storm: K watchers of conversations that are replying all lose their connections at
/// the same instant, stay away for an outage, then all reconnect at once with Last-Event-ID.
/// Caught up = has received the id that was the conversation's latest when they came back.
/// The watchers' id checks span the reconnect, so a missed or doubled event is a violation.
/// </summary>
public static class ResumeStormScenario
{
    public static async Task<ResumeStormResult> RunAsync(Target target, LoadClient client, int conversations, int perConversation,
        TimeSpan warmup, TimeSpan outage, List<string> violationSamples)
    {
        var recording = new Recording();
        var ids = await target.CreateConversationsAsync(conversations);
        var fleet = await Fleet.ConnectAsync(target, client, ids, perConversation, recording);
        await target.StartRepliesAsync(ids, 0);
        await Task.Delay(warmup);

        await fleet.DropAllAsync();
        var droppedAt = fleet.Watchers.Select(w => w.LastId).ToArray();
        await Task.Delay(outage);

        var heads = new long[conversations];
        await Parallel.ForEachAsync(Enumerable.Range(0, conversations), async (c, _) => heads[c] = await target.LastEventIdAsync(ids[c]));
        foreach (var w in fleet.Watchers)
        {
            w.CatchUpTo = heads[w.Conversation];
            w.CaughtUpAt = 0;
        }
        var missed = fleet.Watchers.Select((w, i) => (double)(heads[w.Conversation] - droppedAt[i])).Average();
        var start = DateTime.UtcNow.Ticks;
        var cpuBefore = CpuReading.Take(target.ProcessId);
        // All at once: no limit on concurrent connects.
        await fleet.ConnectAsync(Enumerable.Range(0, fleet.Watchers.Count), concurrency: 0);
        var all = await Fleet.WaitUntilAsync(fleet.Watchers, w => Volatile.Read(ref w.CaughtUpAt) > 0, TimeSpan.FromSeconds(30));
        var cpu = CpuReading.Between(cpuBefore, CpuReading.Take(target.ProcessId));
        var times = fleet.Watchers.Where(w => w.CaughtUpAt > 0).Select(w => (w.CaughtUpAt - start) / 1e7).Order().ToArray();
        var notCaughtUp = fleet.Watchers.Count - times.Length;
        // Where the time went: the load generator starting its requests, the server answering them.
        var sending = fleet.Watchers.Where(w => w.SendingAt > start).Select(w => (w.SendingAt - start) / 1e7).Order().ToArray();
        var answered = fleet.Watchers.Where(w => w.AnsweredAt > start).Select(w => (w.AnsweredAt - start) / 1e7).Order().ToArray();

        await target.StopRepliesAsync();
        await fleet.VerifyCompleteAsync(recording, TimeSpan.FromSeconds(30));
        await fleet.DropAllAsync();
        violationSamples.AddRange(recording.Violations.Select(v => $"{target.Name} resume storm: {v}"));
        return new ResumeStormResult(target.Name, fleet.Watchers.Count, conversations, outage, missed,
            all && times.Length > 0 ? times[^1] : double.NaN,
            Quantile(times, 0.5),
            Quantile(times, 0.99),
            notCaughtUp, recording.ViolationCount, fleet.FailedToConnect,
            Quantile(sending, 0.5), sending.LastOrDefault(double.NaN), Quantile(answered, 0.5), answered.LastOrDefault(double.NaN), cpu);
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, Math.Max(0, (int)Math.Ceiling(sorted.Length * q) - 1))];
}
