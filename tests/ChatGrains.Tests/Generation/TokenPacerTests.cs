using ChatGrains.Generation;
using Microsoft.Extensions.Time.Testing;

namespace ChatGrains.Tests.Generation;

[Trait("Category", TestCategory.Unit)]
public sealed class TokenPacerTests
{
    [Fact]
    public void A_token_already_due_goes_at_once()
    {
        var time = new FakeTimeProvider();
        using var pacer = new TokenPacer(time);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(pacer.WhenDue(time.GetTimestamp() - Ticks(time, TimeSpan.FromMilliseconds(500))).IsCompleted);
    }

    [Fact]
    public void Each_waiter_wakes_at_the_first_tick_at_or_after_its_time_and_never_before()
    {
        var time = new FakeTimeProvider();
        using var pacer = new TokenPacer(time);
        var start = time.GetTimestamp();
        var dueIn = new[] { 5, 10, 25, 25, 40, 1000 }.Select(ms => TimeSpan.FromMilliseconds(ms)).ToArray();
        var waits = dueIn.Select(d => pacer.WhenDue(start + Ticks(time, d))).ToArray();

        var elapsed = TimeSpan.Zero;
        var wokeAt = new TimeSpan?[waits.Length];
        while (wokeAt.Any(w => w is null))
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            elapsed += TimeSpan.FromMilliseconds(1);
            for (var i = 0; i < waits.Length; i++)
            {
                if (wokeAt[i] is null && waits[i].IsCompleted) wokeAt[i] = elapsed;
            }
        }

        for (var i = 0; i < waits.Length; i++)
        {
            Assert.InRange(wokeAt[i]!.Value, dueIn[i], dueIn[i] + TokenPacer.Tick);
        }
    }

    [Fact]
    public void Five_thousand_waiters_all_wake_once_their_time_has_passed()
    {
        var time = new FakeTimeProvider();
        using var pacer = new TokenPacer(time);
        var start = time.GetTimestamp();

        var waits = Enumerable.Range(0, 5000).Select(i => pacer.WhenDue(start + Ticks(time, TimeSpan.FromMilliseconds(i % 200)))).ToList();
        time.Advance(TimeSpan.FromMilliseconds(210));

        Assert.All(waits, w => Assert.True(w.IsCompleted));
    }

    private static long Ticks(TimeProvider time, TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);
}
