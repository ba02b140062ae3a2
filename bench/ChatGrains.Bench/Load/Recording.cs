using System.Collections.Concurrent;
using HdrHistogram;

namespace ChatGrains.Bench.Load;

/// <summary>
/// What all watchers of one measurement share: the latency histogram (microseconds, filled only
/// while the window is open) and the list of ordering violations, which must stay empty.
/// </summary>
public sealed class Recording
{
    private const int KeptViolations = 20;
    private readonly ConcurrentQueue<string> _violations = new();
    private long _violationCount;
    private volatile bool _open;

    /// <summary>Event creation (server clock) to parsed by the client (same machine, same clock), in µs.</summary>
    public LongConcurrentHistogram Latency { get; } = new(1, 120_000_000, 3);

    public bool IsOpen => _open;

    public void Open() => _open = true;

    public void Close() => _open = false;

    public long ViolationCount => Interlocked.Read(ref _violationCount);

    public IReadOnlyCollection<string> Violations => _violations;

    public void Violation(string what)
    {
        if (Interlocked.Increment(ref _violationCount) <= KeptViolations) _violations.Enqueue(what);
    }

    public void RecordLatency(long ticks) => Latency.RecordValue(Math.Max(1, ticks / 10));
}
