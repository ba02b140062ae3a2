using ChatGrains.Presence;

namespace ChatGrains.Tests.Grains;

/// <summary>The union of leased host reports, without a cluster.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class PresenceHostLeasesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly OnlineUser Ada = new("ada", "Ada");
    private static readonly OnlineUser Bob = new("bob", "Bob");
    private static readonly OnlineUser Cy = new("cy", "Cy");

    [Fact]
    public void The_online_list_is_the_union_of_the_hosts_each_user_once_ordered_by_name()
    {
        var leases = new HostLeases();
        Assert.True(leases.Report(new HostPresence("a", [Cy, Ada], TimeSpan.FromSeconds(10)), T0));
        Assert.True(leases.Report(new HostPresence("b", [Bob, Ada, Ada], TimeSpan.FromSeconds(10)), T0));
        Assert.Equal([Ada, Bob, Cy], leases.Online);
    }

    [Fact]
    public void Reporting_the_same_set_again_only_renews()
    {
        var leases = new HostLeases();
        leases.Report(new HostPresence("a", [Ada, Bob], TimeSpan.FromSeconds(10)), T0);
        Assert.False(leases.Report(new HostPresence("a", [Bob, Ada], TimeSpan.FromSeconds(10)), T0.AddSeconds(8)));
        Assert.False(leases.Expire(T0.AddSeconds(17)));
        Assert.True(leases.Expire(T0.AddSeconds(18)));
        Assert.Empty(leases.Online);
        Assert.True(leases.IsEmpty);
    }

    [Fact]
    public void An_empty_report_withdraws_a_host_at_once_and_a_lease_is_never_longer_than_a_minute()
    {
        var leases = new HostLeases();
        leases.Report(new HostPresence("a", [Ada], TimeSpan.FromDays(1)), T0);
        leases.Report(new HostPresence("b", [Bob], TimeSpan.FromSeconds(10)), T0);
        Assert.True(leases.Report(new HostPresence("b", [], TimeSpan.FromSeconds(10)), T0));
        Assert.Equal([Ada], leases.Online);
        Assert.False(leases.Report(new HostPresence("c", [], TimeSpan.FromSeconds(10)), T0));
        Assert.True(leases.Expire(T0 + HostLeases.MaxLease));
        Assert.Empty(leases.Online);
    }
}
