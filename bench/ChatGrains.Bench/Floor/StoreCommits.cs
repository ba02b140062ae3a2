using System.Diagnostics;
using System.Globalization;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Report;
using ChatGrains.Storage;
using HdrHistogram;

namespace ChatGrains.Bench.Floor;

/// <summary>
/// What syncing every commit costs the embedded store: <see cref="SqliteConversationStore"/> alone,
/// N conversations each committing one delta-sized event per interval (a reply's flush: the next
/// tick waits for the previous commit; the conversations' ticks are spread over the interval),
/// measured with <c>synchronous=NORMAL</c> and <c>FULL</c> back to back in the same process,
/// alternating the order each round so that a change in the machine's load hits both. The file
/// is written under <c>data/</c> of the working directory, where the product keeps its own.
/// Run as <c>ChatGrains.Bench store-commits --conversations=100,300,1000</c>; it prints one table
/// row per measurement, with the disk's flushes and the machine's load beside it.
/// </summary>
public static class StoreCommits
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sizes = args.FirstOrDefault(a => a.StartsWith("--conversations=", StringComparison.Ordinal)) is { } list
            ? list["--conversations=".Length..].Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray()
            : [100, 300, 1000];
        var interval = TimeSpan.FromMilliseconds(ChildArgs.Long(args, "--interval-ms", 50));
        var payload = (int)ChildArgs.Long(args, "--payload", 190);
        var warmup = TimeSpan.FromSeconds(ChildArgs.Long(args, "--warmup-s", 3));
        var window = TimeSpan.FromSeconds(ChildArgs.Long(args, "--window-s", 10));
        var rounds = ChildArgs.Long(args, "--rounds", 2);

        var root = Path.Combine(Environment.CurrentDirectory, "data");
        Directory.CreateDirectory(root);
        var disk = DiskFlushes.For(root);
        Console.WriteLine($"Store files under {root}: {disk.Describe()}; {Machine.Describe()}");
        Console.WriteLine("| synchronous | conversations | commits/s | p50 | p99 | p99.9 | store CPU | rest of machine | disk flushes/s | load avg (1 min) | window (UTC) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var conversations in sizes)
        {
            for (var round = 0; round < rounds; round++)
            {
                SqliteSynchronous[] order = round % 2 == 0 ? [SqliteSynchronous.Normal, SqliteSynchronous.Full] : [SqliteSynchronous.Full, SqliteSynchronous.Normal];
                foreach (var mode in order) Console.WriteLine(await MeasureAsync(root, disk, mode, conversations, interval, payload, warmup, window));
            }
        }
        return 0;
    }

    private static async Task<string> MeasureAsync(string root, DiskFlushes disk, SqliteSynchronous mode, int conversations,
        TimeSpan interval, int payload, TimeSpan warmup, TimeSpan window)
    {
        var directory = Directory.CreateDirectory(Path.Combine(root, $"bench-store-commits-{Guid.NewGuid():N}")).FullName;
        try
        {
            await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = Path.Combine(directory, "commits.db"), Synchronous = mode });
            await store.InitializeAsync();
            var ids = Enumerable.Range(0, conversations).Select(i => $"c{i}").ToArray();
            var now = DateTimeOffset.UtcNow;
            await Task.WhenAll(ids.Select(id => store.CommitAsync(
                new ConversationCommit(id, new ConversationInfo(id, "bench", "bench", now), [], [], [], [], [], 0, now))));

            var data = $$"""{"messageId":"{{Guid.NewGuid():N}}","delta":"{{new string('x', payload)}}"}""";
            var latency = new LongConcurrentHistogram(1, 120_000_000, 3); // microseconds
            long committed = 0;
            var measuring = false;
            using var stop = new CancellationTokenSource();
            var loops = ids.Select((id, i) => Task.Run(async () =>
            {
                // Replies start at any moment, so their flushes do not all fall on the same tick.
                await Task.Delay(interval * i / conversations);
                using var timer = new PeriodicTimer(interval);
                long eventId = 0;
                while (await timer.WaitForNextTickAsync(stop.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result))
                {
                    eventId++;
                    var started = Stopwatch.GetTimestamp();
                    await store.CommitAsync(new ConversationCommit(id, null, [new ConversationEvent(eventId, EventTypes.MessageDelta, data)],
                        [], [], [], [], eventId, DateTimeOffset.UtcNow));
                    if (!Volatile.Read(ref measuring)) continue;
                    latency.RecordValue((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    Interlocked.Increment(ref committed);
                }
            })).ToArray();

            await Task.Delay(warmup);
            var from = DateTime.UtcNow;
            var flushesBefore = disk.Read();
            var before = CpuReading.Take(Environment.ProcessId);
            Volatile.Write(ref measuring, true);
            await Task.Delay(window);
            Volatile.Write(ref measuring, false);
            var after = CpuReading.Take(Environment.ProcessId);
            var flushesAfter = disk.Read();
            var count = Interlocked.Read(ref committed);
            await stop.CancelAsync();
            await Task.WhenAll(loops);

            var seconds = (after.At - before.At).TotalSeconds;
            var l = Latency.From(latency);
            var cpu = CpuReading.Alone(before, after);
            var flushes = flushesBefore is { } b && flushesAfter is { } a ? ((a - b) / seconds).ToString("N0", CultureInfo.InvariantCulture) : "n/a";
            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return string.Create(CultureInfo.InvariantCulture,
                $"| {mode.ToString().ToUpperInvariant()} | {conversations:N0} | {count / seconds:N0} | {l.P50:F1} ms | {l.P99:F1} ms | {l.P999:F1} ms | {cpu.Server:F0} % | {cpu.Other:F0} % | {flushes} | {load} | {from:HH:mm:ss}–{DateTime.UtcNow:HH:mm:ss} |");
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Flush requests the block device under a directory has completed (/proc/diskstats, Linux 5.5+):
    /// an fsync that reaches the disk is one. They are the whole device's, not only this process's.
    /// </summary>
    private sealed record DiskFlushes(string MountPoint, string FileSystem, string Device)
    {
        public static DiskFlushes For(string directory)
        {
            // mountinfo: id parent major:minor root mount-point options … - fstype source …
            var mount = File.ReadLines("/proc/self/mountinfo")
                .Select(line => line.Split(' '))
                .Where(f => directory.StartsWith(f[4], StringComparison.Ordinal))
                .MaxBy(f => f[4].Length)!;
            var fileSystem = mount[Array.IndexOf(mount, "-") + 1];
            return new DiskFlushes(mount[4], fileSystem, mount[2]);
        }

        public long? Read()
        {
            var device = Device.Split(':');
            foreach (var line in File.ReadLines("/proc/diskstats"))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 20 && f[0] == device[0] && f[1] == device[1]) return long.Parse(f[18], CultureInfo.InvariantCulture);
            }
            return null; // not a block device (tmpfs: fsync costs nothing there, so neither does FULL)
        }

        public string Describe() => $"{FileSystem} on {Device} mounted at {MountPoint}, flushes {(Read() is null ? "not counted" : "counted")}";
    }
}
