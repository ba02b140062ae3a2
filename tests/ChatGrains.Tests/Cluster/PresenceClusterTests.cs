using System.Diagnostics;
using ChatGrains.Api.Presence;
using ChatGrains.Presence;
using ChatGrains.Tests.Api;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Cluster;

/// <summary>
/// Presence on the real cluster: API hosts as processes, each reporting its own watchers to
/// the presence grains; what one host's watchers see includes who watches on the other, and a
/// host killed with SIGKILL stops counting when its lease runs out.
/// </summary>
[Trait("Category", TestCategory.Cluster)]
[Collection(ClusterCollection.Name)]
public sealed class PresenceClusterTests(LocalCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Presence_spans_both_api_hosts_and_a_killed_hosts_watchers_leave_within_its_lease()
    {
        var (ada, bob, id, _) = await cluster.SharedConversationAsync(); // Ada on API host 1, Bob on 2
        await using var onApi2 = await bob.WatchWithPresenceAsync(id);
        await onApi2.ReadPresenceAsync([bob]);

        // Ada comes and goes on the other host, a few times, timed from the request to Bob's stream.
        using var tab = ada.TabClient();
        var arrivals = new List<TimeSpan>();
        var departures = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            var onApi1 = await ada.WatchWithPresenceAsync(id, tab: tab);
            await onApi2.ReadPresenceAsync([ada, bob]);
            arrivals.Add(clock.Elapsed);
            Assert.True((await onApi1.ReadUntilAsync(e => e.Type == "presence")).Online().SetEquals([ada.UserId, bob.UserId]));
            clock.Restart();
            await onApi1.DisposeAsync();
            await onApi2.ReadPresenceAsync([bob]);
            departures.Add(clock.Elapsed);
        }
        output.WriteLine($"Across API hosts, a watcher on host 1 appeared on host 2 after {Ms(arrivals)} (from opening its stream) and left after {Ms(departures)} (from closing it).");
        Assert.All(arrivals.Concat(departures), t => Assert.True(t < TimeSpan.FromSeconds(2), $"presence took {t} across hosts; the contract allows 2 s"));

        var killed = await ada.WatchWithPresenceAsync(id);
        await onApi2.ReadPresenceAsync([ada, bob]);
        var sinceKill = Stopwatch.StartNew();
        await cluster.KillAsync("api", 1);
        try
        {
            var options = new PresenceOptions();
            var bound = options.Lease + PresenceGrain.ExpiryCheck;
            await onApi2.ReadPresenceAsync([bob], bound + TimeSpan.FromSeconds(5));
            var gone = sinceKill.Elapsed;
            output.WriteLine($"After kill -9 of API host 1, its watcher left presence on host 2 after {gone.TotalSeconds:F1} s " +
                $"(lease {options.Lease.TotalSeconds:F0} s, renewed every {options.RenewInterval.TotalSeconds:F0} s, checked every {PresenceGrain.ExpiryCheck.TotalSeconds:F0} s: " +
                $"expected {(options.Lease - options.RenewInterval).TotalSeconds:F0}–{bound.TotalSeconds:F0} s).");
            Assert.True(gone < bound + TimeSpan.FromSeconds(2), $"the dead host's watcher stayed online for {gone}");
        }
        finally
        {
            await killed.DisposeAsync();
            await cluster.StartAsync("api", 1);
        }
    }

    private static string Ms(IEnumerable<TimeSpan> times) => string.Join(", ", times.Select(t => $"{t.TotalMilliseconds:F0} ms"));
}
