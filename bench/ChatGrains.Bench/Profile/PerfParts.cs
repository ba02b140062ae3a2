using System.Globalization;
using System.Text.RegularExpressions;

namespace ChatGrains.Bench.Profile;

/// <summary>
/// Reads the text of <c>perf script -F comm,pid,tid,time,ip,sym,dso</c> (call stacks, leaf first)
/// and prints how the samples of one process share out among ChatGrains' parts: the table of
/// the README's "Where the CPU goes". A sample goes to the innermost frame that names a part
/// (so serialization under a stream hop counts as serialization); the GC's and the JIT's
/// threads are theirs; a kernel sample with no such frame goes to the part whose system call
/// it is in (SQLite's file calls are the store's, socket calls the host's).
/// Run as <c>ChatGrains.Bench perf-parts FILE [--pid=N] [--cpu=PERCENT --per=UNITS]</c>: with
/// the server's CPU over the window and a count (replies, events/s), it also prints µs per unit.
/// </summary>
public static partial class PerfParts
{
    private static readonly (string Part, string[] Frames)[] Parts =
    [
        ("the model stream: HTTP client and the OpenAI SDK", ["OpenAI.", "System.ClientModel", "System.Net.Http", "Microsoft.Extensions.AI.OpenAI", "SseParser"]),
        ("commits: SQLite, its reads, writes and syncs", ["Sqlite", "libe_sqlite", "ChatGrains.Storage"]),
        ("the generator", ["ChatGrains.Generation"]),
        ("the conversation grain: reply buffer, deltas, events", ["ChatGrains.Conversation"]),
        ("user and presence grains", ["ChatGrains.Users", "ChatGrains.Presence"]),
        ("serialization: Orleans codecs, JSON", ["Orleans.Serialization", "System.Text.Json"]),
        ("the stream hop: Orleans streams' queue and pulling agents", ["Orleans.Streams", "Orleans.Providers", "Orleans.Streaming"]),
        ("the host: feed, write loop, Kestrel, sockets", ["ChatGrains.Api", "Kestrel", "Microsoft.AspNetCore", "System.Net.Sockets"]),
        ("Orleans: grain timers, messaging, scheduler", ["Orleans"]),
        ("telemetry", ["System.Diagnostics.Metrics", "System.Diagnostics.Activity", "OpenTelemetry", "ChatGrains.Telemetry"]),
    ];

    private const string Store = "commits: SQLite, its reads, writes and syncs";
    private const string Host = "the host: feed, write loop, Kestrel, sockets";
    private static readonly HashSet<string> StoreCalls = ["__x64_sys_pread64", "__x64_sys_pwrite64", "__x64_sys_fsync", "__x64_sys_fdatasync"];
    private static readonly HashSet<string> SocketCalls = ["__x64_sys_sendto", "__x64_sys_recvfrom", "__x64_sys_sendmsg", "__x64_sys_recvmsg", "__x64_sys_epoll_wait"];
    private static readonly HashSet<string> WaitCalls = ["__x64_sys_futex", "__x64_sys_sched_yield"];

    public static async Task<int> RunAsync(string[] args)
    {
        var file = args.SkipWhile(a => a != "perf-parts").Skip(1).FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
        if (file is null || !File.Exists(file))
        {
            Console.Error.WriteLine("Usage: ChatGrains.Bench perf-parts PERF_SCRIPT_TEXT [--pid=N] [--cpu=PERCENT --per=UNITS]");
            return 2;
        }
        var pid = Option(args, "--pid");
        var cpu = Option(args, "--cpu") is { } c ? double.Parse(c, CultureInfo.InvariantCulture) : (double?)null;
        var per = Option(args, "--per") is { } p ? double.Parse(p, CultureInfo.InvariantCulture) : (double?)null;

        var counts = new Dictionary<string, int>();
        var total = 0;
        await foreach (var sample in ReadSamplesAsync(file))
        {
            if (pid is not null && sample.Pid != pid) continue;
            var part = PartOf(sample);
            counts[part] = counts.GetValueOrDefault(part) + 1;
            total++;
        }
        if (total == 0)
        {
            Console.Error.WriteLine("No samples (wrong --pid, or perf script without call stacks?)");
            return 1;
        }
        var perUnit = cpu is { } cpuPercent && per is { } units;
        Console.WriteLine(perUnit ? "| where | share of the samples | per unit-second |" : "| where | share of the samples |");
        Console.WriteLine(perUnit ? "| --- | --- | --- |" : "| --- | --- |");
        foreach (var (part, n) in counts.OrderByDescending(kv => kv.Value))
        {
            var share = (double)n / total;
            Console.WriteLine(perUnit
                ? string.Create(CultureInfo.InvariantCulture, $"| {part} | {100 * share:F1} % | {share * cpu!.Value * 10_000 / per!.Value:F0} µs |")
                : string.Create(CultureInfo.InvariantCulture, $"| {part} | {100 * share:F1} % |"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{total:N0} samples"));
        return 0;
    }

    internal static string PartOf(PerfSample sample)
    {
        if (sample.Thread.StartsWith(".NET Server GC", StringComparison.Ordinal) || sample.Thread.StartsWith(".NET BGC", StringComparison.Ordinal)
            || sample.Frames.Take(8).Any(f => f.Contains("SVR::", StringComparison.Ordinal) || f.Contains("WKS::", StringComparison.Ordinal)))
            return "GC";
        if (sample.Thread.StartsWith(".NET Tiered", StringComparison.Ordinal) || sample.Frames.Take(6).Any(f => f.Contains("libclrjit", StringComparison.Ordinal)))
            return "JIT";
        foreach (var frame in sample.Frames)
        {
            foreach (var (part, names) in Parts)
            {
                if (names.Any(n => frame.Contains(n, StringComparison.Ordinal))) return part;
            }
        }
        var call = sample.Frames.Select(SymbolOf).FirstOrDefault(s => s.StartsWith("__x64_sys_", StringComparison.Ordinal)) ?? "";
        if (StoreCalls.Contains(call)) return Store;
        if (SocketCalls.Contains(call)) return Host;
        if (WaitCalls.Contains(call) || sample.Frames.Any(f => f.Contains("System.Threading", StringComparison.Ordinal) || f.Contains("CompilerServices", StringComparison.Ordinal)))
            return "thread pool, waits, async machinery";
        return sample.Frames.FirstOrDefault()?.Contains("kernel", StringComparison.Ordinal) == true ? "kernel, other" : "runtime, other";
    }

    internal sealed record PerfSample(string Thread, string Pid, List<string> Frames);

    // "<comm> <pid>/<tid> <time>:" — the thread name may contain spaces.
    [GeneratedRegex(@"^(?<comm>.*?)\s+(?<pid>\d+)/(?<tid>\d+)\s")]
    private static partial Regex SampleHeader();

    private static async IAsyncEnumerable<PerfSample> ReadSamplesAsync(string file)
    {
        PerfSample? current = null;
        await foreach (var line in File.ReadLinesAsync(file))
        {
            if (line.Length == 0)
            {
                if (current is not null) yield return current;
                current = null;
            }
            else if (line[0] is '\t' or ' ')
            {
                current?.Frames.Add(line.Trim());
            }
            else if (SampleHeader().Match(line) is { Success: true } header)
            {
                current = new PerfSample(header.Groups["comm"].Value, header.Groups["pid"].Value, []);
            }
        }
        if (current is not null) yield return current;
    }

    // "<ip> <symbol> (<dso>)"
    private static string SymbolOf(string frame)
    {
        var parts = frame.Split(' ', 3);
        return parts.Length > 1 ? parts[1] : "";
    }

    private static string? Option(string[] args, string name) =>
        args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];
}
