using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Scenarios;

/// <summary>
/// Density: N idle watchers (no replies) held on one host while heartbeats flow. Memory is read
/// after a full GC (forced from outside) before the watchers connect and again after they have
/// been held for a while: the difference per watcher is what one costs. Held = connections still
/// open at the end, none cut off.
/// </summary>
public static class DensityScenario
{
    public static async Task<DensityResult> RunAsync(Target target, LoadClient client, int watchers, int perConversation, TimeSpan hold, List<string> violationSamples)
    {
        var recording = new Recording();
        var conversations = Math.Max(1, watchers / perConversation);
        var ids = await target.CreateConversationsAsync(conversations);
        var before = await target.MemoryAsync(collect: true);

        var started = DateTime.UtcNow;
        var fleet = await Fleet.ConnectAsync(target, client, ids, perConversation, recording);
        var connectSeconds = (DateTime.UtcNow - started).TotalSeconds;

        var cpuBefore = CpuReading.Take(target.ProcessId);
        await Task.Delay(hold);
        var cpuAfter = CpuReading.Take(target.ProcessId);
        var held = fleet.Open;
        var after = await target.MemoryAsync(collect: true);
        var heartbeats = fleet.Watchers.Sum(w => w.Heartbeats);
        var withHeartbeat = fleet.Watchers.Count(w => w.Heartbeats > 0);
        var closed = fleet.Watchers.Sum(w => w.ServerClosed);
        await fleet.DropAllAsync();
        violationSamples.AddRange(recording.Violations.Select(v => $"{target.Name} density: {v}"));
        return new DensityResult(target.Name, fleet.Watchers.Count, held, conversations, connectSeconds, hold, before, after,
            heartbeats, withHeartbeat, CpuReading.Between(cpuBefore, cpuAfter), recording.ViolationCount + closed);
    }
}
