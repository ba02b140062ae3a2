using System.Globalization;
using System.Text;

namespace ChatGrains.Bench.Report;

/// <summary>ChatGrains and baseline results of the same load, paired.</summary>
public static class Comparison
{
    public static IEnumerable<(FanOutResult ChatGrains, FanOutResult Baseline)> Pairs(BenchResults results) =>
        from cg in results.FanOut.Where(f => f.Target == "ChatGrains")
        join bl in results.FanOut.Where(f => f.Target == "Baseline")
            on (cg.Label, cg.Conversations, cg.WatchersPerConversation) equals (bl.Label, bl.Conversations, bl.WatchersPerConversation)
        select (cg, bl);
}

/// <summary>The run as a Markdown page: the targets, then a table per scenario, then the charts.</summary>
public static class MarkdownReport
{
    public static string Render(BenchResults r, IReadOnlyList<string> charts, string command)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# ChatGrains fan-out benchmark{(r.Quick ? " (quick)" : "")}");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run {r.StartedUtc:yyyy-MM-dd HH:mm} UTC, {r.Duration.TotalMinutes:F1} min, with `{command}`.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {r.Machine}.");
        md.AppendLine("The server and the load generator share this machine; *other CPU* is everything else that ran during the window.");
        md.AppendLine("Latency is from the moment the conversation grain (or the baseline's publisher) creates an event to the moment the client has parsed it, both read from the same system clock.");
        md.AppendLine();

        if (!r.Quick) Targets(md, r);
        Density(md, r);
        FanOut(md, r);
        Floors(md, r);
        Ratios(md, r);
        Storms(md, r);
        LongConversations(md, r);
        foreach (var chart in charts) md.AppendLine(CultureInfo.InvariantCulture, $"![{Path.GetFileNameWithoutExtension(chart)}]({Path.GetFileName(chart)})").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"**Lost, doubled or reordered events: {r.TotalViolations}.**");
        foreach (var v in r.ViolationSamples.Take(20)) md.AppendLine(CultureInfo.InvariantCulture, $"- {v}");
        foreach (var e in r.Errors) md.AppendLine(CultureInfo.InvariantCulture, $"- error: {e}");
        return md.ToString();
    }

    private static void Targets(StringBuilder md, BenchResults r)
    {
        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("| --- | --- | --- |");
        foreach (var w in new[] { 100, 190 })
        {
            if (Comparison.Pairs(r).FirstOrDefault(p => p.ChatGrains.Label == "sweep" && p.ChatGrains.WatchersPerConversation == w) is not { ChatGrains: { } cg } pair) continue;
            var ratio = cg.EventsPerCpuSecond / pair.Baseline.EventsPerCpuSecond;
            md.AppendLine(I($"| fan-out {cg.Conversations}×{w}: events per server CPU-second ≥ 0.8× the baseline's | {cg.EventsPerCpuSecond:N0} vs {pair.Baseline.EventsPerCpuSecond:N0} ({ratio:F2}×); {cg.DeliveredPerSecond:N0} vs {pair.Baseline.DeliveredPerSecond:N0} events/s at {cg.Cpu.Server:F0} % vs {pair.Baseline.Cpu.Server:F0} % | {Mark(ratio >= 0.8)} |"));
        }
        if (r.FanOut.FirstOrDefault(f => f.Target == "ChatGrains" && f.Label == "replies") is { } replies && r.Floors.FirstOrDefault() is { } floor)
        {
            // The CPU allowance: the floor's, plus what the baseline spends fanning the same events out.
            var fanOut = r.FanOut.FirstOrDefault(f => f.Target == "Baseline" && f.Label == "replies");
            var allowance = floor.Cpu.Server + (fanOut?.Cpu.Server ?? double.NaN) + 15;
            var met = replies.Latency.P99 <= 3 * floor.Latency.P99 && replies.Cpu.Server <= allowance;
            md.AppendLine(I($"| {replies.Conversations:N0} replies × {replies.TokensPerSecond:0} tokens/s: p99 ≤ 3× the Orleans floor's, server CPU ≤ floor + baseline fan-out + 15 % | p99 {replies.Latency.P99:F1} ms vs floor {floor.Latency.P99:F1} ms ({replies.Latency.P99 / floor.Latency.P99:F1}×); CPU {replies.Cpu.Server:F0} % vs {floor.Cpu.Server:F0} + {fanOut?.Cpu.Server ?? double.NaN:F0} + 15 = {allowance:F0} % | {Mark(met)} |"));
        }
        var cgD = r.Density.FirstOrDefault(d => d.Target == "ChatGrains");
        var blD = r.Density.FirstOrDefault(d => d.Target == "Baseline");
        if (cgD is not null && blD is not null)
        {
            var ratio = cgD.HeapPerWatcherKb / blD.HeapPerWatcherKb;
            md.AppendLine(I($"| {cgD.Requested:N0} idle watchers at ≤ 1.3× the baseline's GC heap per watcher | {cgD.Held:N0} held; GC heap {cgD.HeapPerWatcherKb:F1} vs {blD.HeapPerWatcherKb:F1} KB per watcher ({ratio:F2}×); RSS {cgD.RssPerWatcherKb:F1} vs {blD.RssPerWatcherKb:F1} KB | {Mark(cgD.Held >= cgD.Requested && ratio <= 1.3)} |"));
        }
        if (r.ResumeStorms.FirstOrDefault() is { } storm)
            md.AppendLine(I($"| resume storm of 10,000 watchers, all caught up in < 2 s, nothing missing | {storm.Watchers:N0} watchers all caught up in {storm.AllCaughtUpSeconds:F2} s, {storm.NotCaughtUp} not caught up, {storm.Violations} lost or reordered | {Mark(storm.Watchers >= 10_000 && storm.AllCaughtUpSeconds < 2 && storm.NotCaughtUp == 0 && storm.Violations == 0)} |"));
        md.AppendLine();
        md.AppendLine("Every fan-out is measured warm: the window opens once the server's JIT has settled (under 2 % of a core for 4 s, see `WarmUp`); the fan-out table gives how long that took and the JIT's CPU-seconds meanwhile.");
        md.AppendLine();
    }

    private static void Density(StringBuilder md, BenchResults r)
    {
        if (r.Density.Count == 0) return;
        md.AppendLine("## Density: idle watchers on one host, heartbeats flowing");
        md.AppendLine();
        md.AppendLine("| server | held / connected | conversations | connect time | RSS before → after | RSS per watcher | GC heap per watcher | heartbeats (watchers that got one) | server CPU | load-gen CPU | lost/reordered |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var d in r.Density)
        {
            md.AppendLine(I($"| {d.Target} | {d.Held:N0} / {d.Requested:N0} | {d.Conversations:N0} | {d.ConnectSeconds:F1} s | {Mb(d.Before.RssBytes)} → {Mb(d.After.RssBytes)} MB | {d.RssPerWatcherKb:F1} KB | {d.HeapPerWatcherKb:F1} KB | {d.Heartbeats:N0} ({d.WatchersWithHeartbeat:N0}) | {d.Cpu.Server:F0} % | {d.Cpu.Client:F0} % | {d.Violations} |"));
        }
        md.AppendLine();
    }

    private static void FanOut(StringBuilder md, BenchResults r)
    {
        if (r.FanOut.Count == 0) return;
        md.AppendLine(I($"## Fan-out: conversations replying at {r.FanOut[0].TokensPerSecond:0} tokens/s (one delta per 50 ms), watchers on one host"));
        md.AppendLine();
        md.AppendLine("| server | replies by | conversations × watchers | watchers | warm-up (JIT CPU) | delivered events/s | events per server CPU-second | p50 | p99 | p99.9 | max | server CPU | load-gen CPU | other CPU | stolen | bytes/event | lost/reordered |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var f in r.FanOut)
        {
            var by = f.Target == "Baseline" ? "timers" : f.Label == "replies-openai" ? "OpenAI provider" : "embedded";
            md.AppendLine(I($"| {f.Target} | {by} | {f.Conversations:N0} × {f.WatchersPerConversation:N0} | {f.Watchers:N0} | {f.WarmupSeconds:F0} s ({f.WarmupJitSeconds:F1} s) | {f.DeliveredPerSecond:N0} | {f.EventsPerCpuSecond:N0} | {f.Latency.P50:F1} ms | {f.Latency.P99:F1} ms | {f.Latency.P999:F1} ms | {f.Latency.Max:F0} ms | {f.Cpu.Server:F0} % | {f.Cpu.Client:F0} % | {f.Cpu.Other:F0} % | {f.Cpu.Stolen:F0} % | {f.MeanFrameBytes:F0} | {f.Violations} |"));
        }
        md.AppendLine();
        md.AppendLine(I($"CPU is % of one core (the machine has 200 %). Other work on the machine took {r.FanOut.Min(f => f.Cpu.Other):F0}–{r.FanOut.Max(f => f.Cpu.Other):F0} % during these windows, and the hypervisor took (stole) {r.FanOut.Min(f => f.Cpu.Stolen):F0}–{r.FanOut.Max(f => f.Cpu.Stolen):F0} % of the machine's cores: where either is high, throughput and latencies are the machine's, not the servers'."));
        md.AppendLine("A conversation grain publishes one delta per `Conversation:DeltaInterval` (50 ms) counted from the end of the previous commit (grain timer ticks do not overlap), so ChatGrains' deltas get fewer and larger as it gets busier: every token still arrives, in fewer events. The baseline publishes every 50 ms exactly, with frames of ChatGrains' mean size at the same point (bytes/event).");
        md.AppendLine();
    }

    private static void Floors(StringBuilder md, BenchResults r)
    {
        if (r.Floors is not { Count: > 0 } floors) return;
        md.AppendLine("## The Orleans floor: a grain timer and the stream hop alone, at the replies' rate");
        md.AppendLine();
        md.AppendLine("One silo with ChatGrains' stream settings; each grain publishes one event of the deltas' size per interval from a grain timer, and a subscription in the same process receives it. No generator, no store, no HTTP, no load generator: what is left of the replies row's cost once Orleans' own is taken away is ChatGrains'.");
        md.AppendLine();
        md.AppendLine("| streams | interval | events/s | p50 | p99 | p99.9 | max | CPU | other CPU | stolen | lost/reordered |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var f in floors)
        {
            md.AppendLine(I($"| {f.Streams:N0} | {f.IntervalMs:0} ms | {f.EventsPerSecond:N0} | {f.Latency.P50:F1} ms | {f.Latency.P99:F1} ms | {f.Latency.P999:F1} ms | {f.Latency.Max:F0} ms | {f.Cpu.Server:F0} % | {f.Cpu.Other:F0} % | {f.Cpu.Stolen:F0} % | {f.Violations} |"));
        }
        md.AppendLine();
    }

    private static void LongConversations(StringBuilder md, BenchResults r)
    {
        if (r.LongConversations is not { Count: > 0 } rows) return;
        md.AppendLine("## Long conversations: a grain's memory and its snapshot");
        md.AppendLine();
        md.AppendLine("One silo, conversations of one thread stored in SQLite; the GC heap after a full collection before and after activating them, per conversation, and the snapshot's time (the grain call and its JSON) over many calls. *Before* is configured as the code before paging was: every message held and in the snapshot.");
        md.AppendLine();
        md.AppendLine("| configuration | messages | held per conversation | GC heap per conversation | snapshot p50 | p99 | snapshot size |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var l in rows)
        {
            md.AppendLine(I($"| {l.Configuration} | {l.Conversations} × {l.Messages:N0} | {l.HeldMessages:N0} | {l.HeapPerConversationMb:F2} MB | {l.Snapshot.P50:F2} ms | {l.Snapshot.P99:F2} ms | {l.SnapshotKb:N0} KB |"));
        }
        md.AppendLine();
    }

    private static void Ratios(StringBuilder md, BenchResults r)
    {
        var pairs = Comparison.Pairs(r).ToList();
        if (pairs.Count == 0) return;
        md.AppendLine("## ChatGrains / baseline");
        md.AppendLine();
        md.AppendLine("| conversations × watchers | throughput | events per server CPU-second | p99 latency | server CPU |");
        md.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var (cg, bl) in pairs)
        {
            md.AppendLine(I($"| {cg.Conversations:N0} × {cg.WatchersPerConversation:N0} | {cg.DeliveredPerSecond / bl.DeliveredPerSecond:F2}× | {cg.EventsPerCpuSecond / bl.EventsPerCpuSecond:F2}× | {cg.Latency.P99 / bl.Latency.P99:F1}× | {cg.Cpu.Server / bl.Cpu.Server:F1}× |"));
        }
        md.AppendLine();
    }

    private static void Storms(StringBuilder md, BenchResults r)
    {
        if (r.ResumeStorms.Count == 0) return;
        md.AppendLine("## Resume storm: every watcher drops at once and resumes with Last-Event-ID");
        md.AppendLine();
        md.AppendLine("| server | watchers | conversations | outage | events missed each (mean) | requests sent (p50 / all) | answered (p50 / all) | all caught up | p50 | p99 | server CPU | load-gen CPU | stolen | not caught up | lost/reordered |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var s in r.ResumeStorms)
        {
            md.AppendLine(I($"| {s.Target} | {s.Watchers:N0} | {s.Conversations} | {s.Outage.TotalSeconds:F1} s | {s.MeanEventsMissed:F0} | {Span(s.P50SendingSeconds, s.AllSendingSeconds)} | {Span(s.P50AnsweredSeconds, s.AllAnsweredSeconds)} | {s.AllCaughtUpSeconds:F2} s | {s.P50CaughtUpSeconds:F2} s | {s.P99CaughtUpSeconds:F2} s | {Pct(s.Cpu?.Server)} | {Pct(s.Cpu?.Client)} | {Pct(s.Cpu?.Stolen)} | {s.NotCaughtUp} | {s.Violations} |"));
        }
        md.AppendLine();
        md.AppendLine("Times are from the moment the watchers start reconnecting: *requests sent* is when the load generator began each request, *answered* when its response headers arrived (the server has checked the request, attached the watcher and queued what it missed), *caught up* when it had received the event that was the conversation's latest when it came back. CPU is from the reconnect until all had caught up; *stolen* is what the hypervisor took from the machine's cores meanwhile.");
        md.AppendLine();
    }

    // A run recorded before these times were kept has none: a dash, not NaN.
    private static string Span(double p50, double all) =>
        double.IsNaN(p50) ? "—" : I($"{p50:F2} / {all:F2} s");

    private static string Pct(double? percent) => percent is { } p ? I($"{p:F0} %") : "—";

    private static string Mark(bool met) => met ? "yes" : "**no**";

    private static string Mb(long bytes) => (bytes / (1024.0 * 1024)).ToString("F0", CultureInfo.InvariantCulture);

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
