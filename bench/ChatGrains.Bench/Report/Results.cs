using ChatGrains.Bench.Floor;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Targets;
using HdrHistogram;

namespace ChatGrains.Bench.Report;

/// <summary>Latency percentiles in milliseconds, from a histogram of microseconds.</summary>
public sealed record Latency(long Samples, double P50, double P99, double P999, double Max)
{
    public static Latency From(HistogramBase histogram) => histogram.TotalCount == 0
        ? new Latency(0, double.NaN, double.NaN, double.NaN, double.NaN)
        : new Latency(histogram.TotalCount,
            histogram.GetValueAtPercentile(50) / 1000.0,
            histogram.GetValueAtPercentile(99) / 1000.0,
            histogram.GetValueAtPercentile(99.9) / 1000.0,
            histogram.GetMaxValue() / 1000.0);
}

public sealed record DensityResult(
    string Target, int Requested, int Held, int Conversations, double ConnectSeconds, TimeSpan Hold,
    ServerMemory Before, ServerMemory After, long Heartbeats, int WatchersWithHeartbeat, CpuUse Cpu, long Violations)
{
    public double RssPerWatcherKb => Held == 0 ? double.NaN : (After.RssBytes - Before.RssBytes) / 1024.0 / Held;
    public double HeapPerWatcherKb => Held == 0 ? double.NaN : (After.GcHeapBytes - Before.GcHeapBytes) / 1024.0 / Held;
}

public sealed record FanOutResult(
    string Target, string Label, int Conversations, int WatchersPerConversation, double TokensPerSecond,
    double DeliveredPerSecond, Latency Latency, CpuUse Cpu, double MeanFrameBytes, long Violations, int FailedToConnect, long ServerClosed,
    double WarmupSeconds = 0, double WarmupJitSeconds = 0)
{
    public int Watchers => Conversations * WatchersPerConversation;

    /// <summary>Events delivered per second of server CPU (one core busy for one second).</summary>
    public double EventsPerCpuSecond => Cpu.Server <= 0 ? double.NaN : DeliveredPerSecond / (Cpu.Server / 100);
}

public sealed record ResumeStormResult(
    string Target, int Watchers, int Conversations, TimeSpan Outage, double MeanEventsMissed,
    double AllCaughtUpSeconds, double P50CaughtUpSeconds, double P99CaughtUpSeconds, int NotCaughtUp, long Violations, int FailedToConnect,
    double P50SendingSeconds = double.NaN, double AllSendingSeconds = double.NaN, double P50AnsweredSeconds = double.NaN, double AllAnsweredSeconds = double.NaN, CpuUse? Cpu = null);

public sealed record BenchResults(
    Machine Machine, bool Quick, DateTime StartedUtc, TimeSpan Duration,
    List<DensityResult> Density, List<FanOutResult> FanOut, List<ResumeStormResult> ResumeStorms, List<StreamFloorResult> Floors,
    List<string> Errors, List<string> ViolationSamples, List<Probes.LongConversationResult>? LongConversations = null)
{
    public long TotalViolations => Density.Sum(d => d.Violations) + FanOut.Sum(f => f.Violations) + ResumeStorms.Sum(r => r.Violations)
        + Floors.Sum(f => f.Violations);
}
