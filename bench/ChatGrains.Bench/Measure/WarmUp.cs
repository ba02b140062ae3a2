using System.Diagnostics;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Measure;

/// <summary>
/// Waits, under load, until a server is warm: its JIT has stopped recompiling hot code. .NET
/// compiles each method quickly first and recompiles the busy ones with what it saw them do
/// (tiered compilation with dynamic PGO); under the fan-out's load ChatGrains spends about 40
/// CPU-seconds of its first minute and a half doing that, and a window measured during it
/// measures the compiler. Warm means: at least <c>minimum</c> has passed, and the JIT took under
/// 2 % of one core over each of the last two 2-second samples. Gives up at <c>maximum</c>. A
/// saturated server starves the JIT's background thread, so a quiet JIT is only believed after
/// the minimum (the full run's is 30 s).
/// </summary>
public static class WarmUp
{
    private static readonly TimeSpan Sample = TimeSpan.FromSeconds(2);
    private const double QuietShare = 0.02;

    /// <summary>How long the warm-up took, and the JIT's milliseconds during it.</summary>
    public static async Task<(TimeSpan Took, double JitMilliseconds)> UntilJitSettlesAsync(Target target, TimeSpan minimum, TimeSpan maximum)
    {
        var clock = Stopwatch.StartNew();
        var first = await target.JitMillisecondsAsync();
        await Task.Delay(minimum);
        var last = await target.JitMillisecondsAsync();
        var quiet = 0;
        while (quiet < 2 && clock.Elapsed < maximum)
        {
            await Task.Delay(Sample);
            var now = await target.JitMillisecondsAsync();
            quiet = now - last < QuietShare * Sample.TotalMilliseconds ? quiet + 1 : 0;
            last = now;
        }
        return (clock.Elapsed, last - first);
    }
}
