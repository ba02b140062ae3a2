using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using ChatGrains.Presence;
using ChatGrains.Tests.Infrastructure;
using Orleans.Runtime;
using Orleans.Streams;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Grains;

/// <summary>The presence grain on a two-silo cluster: leased host reports, their union, and what it publishes.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class PresenceGrainTests(ConversationCluster cluster, ITestOutputHelper output) : IClassFixture<ConversationCluster>
{
    private static readonly OnlineUser Ada = new("ada", "Ada");
    private static readonly OnlineUser Bob = new("bob", "Bob");
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task A_host_that_stops_renewing_stops_counting_when_its_lease_runs_out_and_the_others_stay()
    {
        var (id, grain, published) = await NewPresenceAsync();
        var lease = TimeSpan.FromSeconds(1);
        var clock = Stopwatch.StartNew();
        await grain.ReportAsync(new HostPresence("host-a", [Ada], lease));
        await grain.ReportAsync(new HostPresence("host-b", [Bob], Long));
        Assert.Equal([Ada, Bob], await grain.GetOnlineAsync());

        // Host a goes silent (a killed process says nothing): its lease is all that keeps Ada listed.
        await Eventually.Until(() => Task.FromResult(published.LastOrDefault()), p => p == Presence(Bob), TimeSpan.FromSeconds(5), "Ada's host expires");
        var gone = clock.Elapsed;
        output.WriteLine($"A 1 s lease ended {gone.TotalSeconds:F2} s after the host's last report (the grain checks every {PresenceGrain.ExpiryCheck.TotalSeconds:F0} s).");
        Assert.InRange(gone, lease, lease + PresenceGrain.ExpiryCheck + TimeSpan.FromSeconds(1));
        Assert.Equal([Bob], await grain.GetOnlineAsync());
        Assert.Equal([Presence(Ada), Presence(Ada, Bob), Presence(Bob)], published);
    }

    [Fact]
    public async Task A_host_that_renews_within_its_lease_keeps_counting()
    {
        var (_, grain, published) = await NewPresenceAsync();
        // Long enough that a stall of the test machine between two renewals (a GC, a busy or
        // stolen core: CI once saw a 1 s lease lapse between renewals 333 ms apart) does not
        // outlast it; the hosts renew several times per lease for the same reason.
        var lease = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        // Renewing four times a lease, for well past the lease.
        while (clock.Elapsed < 2.5 * lease)
        {
            await grain.ReportAsync(new HostPresence("host-a", [Ada], lease));
            await Task.Delay(lease / 4);
        }
        Assert.Equal([Ada], await grain.GetOnlineAsync());
        // Renewals of an unchanged set publish nothing.
        Assert.Equal([Presence(Ada)], published);
    }

    [Fact]
    public async Task A_user_on_two_hosts_is_listed_once_and_stays_until_the_last_host_withdraws_them()
    {
        var (_, grain, published) = await NewPresenceAsync();
        await grain.ReportAsync(new HostPresence("host-a", [Ada, Bob], Long));
        await grain.ReportAsync(new HostPresence("host-b", [Ada], Long));
        Assert.Equal([Ada, Bob], await grain.GetOnlineAsync());

        await grain.ReportAsync(new HostPresence("host-a", [], Long));
        Assert.Equal([Ada], await grain.GetOnlineAsync());
        await grain.ReportAsync(new HostPresence("host-b", [], Long));
        Assert.Empty(await grain.GetOnlineAsync());
        // Every change of a host's set is announced, so a host that just opened its feed hears a
        // list with its new watcher in it even when the union stayed the same.
        await Eventually.Until(() => Task.FromResult(published.ToList()), p => p.Count == 4, TimeSpan.FromSeconds(5), "four announcements");
        Assert.Equal([Presence(Ada, Bob), Presence(Ada, Bob), Presence(Ada), Presence()], published);
    }

    [Fact]
    public async Task Typing_is_forwarded_once_per_user_per_two_seconds()
    {
        var (_, grain, published) = await NewPresenceAsync(EphemeralEvents.Typing);
        var ada = new Caller("ada", "Ada");
        var bob = new Caller("bob", "Bob");
        for (var i = 0; i < 3; i++) await grain.TypingAsync(ada);
        await grain.TypingAsync(bob);
        await grain.TypingAsync(ada);

        await Eventually.Until(() => Task.FromResult(published.ToList()), p => p.Count == 2, TimeSpan.FromSeconds(5), "Bob's typing arrives");
        Assert.Equal(["""{"userId":"ada","name":"Ada"}""", """{"userId":"bob","name":"Bob"}"""], published);
    }

    private static string Presence(params OnlineUser[] online) => JsonSerializer.Serialize(new PresenceData(online), ChatJson.Wire.PresenceData);

    /// <summary>A new conversation's presence grain, and what it publishes of one type, in order, as an API host's feed receives it.</summary>
    private async Task<(string Id, IPresenceGrain Grain, ConcurrentQueue<string> Published)> NewPresenceAsync(string type = EphemeralEvents.Presence)
    {
        var id = Guid.NewGuid().ToString("N");
        var published = new ConcurrentQueue<string>();
        await cluster.Cluster.Client.GetStreamProvider(ConversationStreams.Provider).GetStream<ConversationEvent>(ConversationStreams.For(id))
            .SubscribeAsync((e, _) =>
            {
                // Ephemeral only: anything numbered shows up as a mismatch.
                if (e.Id != 0) published.Enqueue($"numbered {e.Id}: {e.Type}");
                else if (e.Type == type) published.Enqueue(e.Data);
                return Task.CompletedTask;
            });
        return (id, cluster.Cluster.Client.GetGrain<IPresenceGrain>(id), published);
    }
}

/// <summary>Presence survives losing the silo that holds it: nothing was stored, the hosts' renewals are the state.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class PresenceSiloLossTests : IAsyncLifetime
{
    private readonly ConversationCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task After_the_silo_holding_presence_dies_the_hosts_next_renewals_fill_it_again()
    {
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Cluster.Client.GetGrain<IPresenceGrain>(id);
        var ada = new HostPresence("host-a", [new OnlineUser("ada", "Ada")], TimeSpan.FromSeconds(10));
        var bob = new HostPresence("host-b", [new OnlineUser("bob", "Bob")], TimeSpan.FromSeconds(10));
        await grain.ReportAsync(ada);
        await grain.ReportAsync(bob);

        var address = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address)));

        // What each host's reporter does every few seconds, failing while the dead silo is being declared dead.
        var online = await Eventually.Until(async () =>
        {
            try
            {
                await grain.ReportAsync(ada);
                await grain.ReportAsync(bob);
                return await grain.GetOnlineAsync();
            }
            catch (Exception) { return []; }
        }, o => o.Count == 2, TimeSpan.FromSeconds(60), "the renewals reach the grain's new activation");
        Assert.Equal(["ada", "bob"], online.Select(u => u.UserId));
    }
}
