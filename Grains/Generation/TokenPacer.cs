using System.Collections.Concurrent;

namespace ChatGrains.Generation;

/// <summary>
/// One clock for every paced reply of the embedded generator. A reply asks to wake when its
/// next token is due; the pacer's single timer ticks every <see cref="Tick"/> and wakes all the
/// replies whose tokens have come due since the last tick, never before their time. With a timer
/// per token instead, a thousand replies at 50 tokens/s made 50,000 timers a second, and the
/// process-wide timer-queue lock they share was a fifth of a busy silo's CPU.
/// </summary>
internal sealed class TokenPacer(TimeProvider time) : IDisposable
{
    /// <summary>A token is at most this late; the grain publishes every 50 ms by default, so this never shows.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    private readonly long _origin = time.GetTimestamp();
    private readonly long _tickLength = (long)(Tick.TotalSeconds * time.TimestampFrequency);
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _waiting = new();
    private readonly Lock _startGate = new();
    private ITimer? _timer;
    private long _lastFired;

    /// <summary>Completes at the first tick at or after <paramref name="timestamp"/> (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public Task WhenDue(long timestamp)
    {
        if (timestamp <= time.GetTimestamp()) return Task.CompletedTask;
        var tick = (timestamp - _origin + _tickLength - 1) / _tickLength;
        EnsureStarted();
        var waiter = _waiting.GetOrAdd(tick, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        // The timer may have passed this tick since the clock was read: then no one else will
        // complete it.
        if (tick <= Volatile.Read(ref _lastFired) && _waiting.TryRemove(tick, out var late)) late.TrySetResult();
        return waiter.Task;
    }

    public void Dispose()
    {
        lock (_startGate) _timer?.Dispose();
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _timer) is not null) return;
        lock (_startGate) _timer ??= time.CreateTimer(static s => ((TokenPacer)s!).OnTick(), this, Tick, Tick);
    }

    private void OnTick()
    {
        var now = (time.GetTimestamp() - _origin) / _tickLength;
        var from = Volatile.Read(ref _lastFired) + 1;
        if (now < from) return;
        Volatile.Write(ref _lastFired, now);
        for (var tick = from; tick <= now; tick++)
        {
            if (_waiting.TryRemove(tick, out var due)) due.TrySetResult();
        }
    }
}
