namespace ChatGrains.Presence;

/// <summary>
/// The API hosts' reports for one conversation, each valid until its lease runs out; who is
/// online is their union. A host is never asked whether it is still there: it renews, or its
/// entry expires.
/// </summary>
public sealed class HostLeases
{
    /// <summary>The longest lease a host may ask for (<see cref="HostPresence.MaxLease"/>, which the hosts' settings are checked against).</summary>
    public static readonly TimeSpan MaxLease = HostPresence.MaxLease;

    private readonly Dictionary<string, Entry> _hosts = [];

    public bool IsEmpty => _hosts.Count == 0;

    /// <summary>
    /// The union of the live reports, ordered by name then id, so that the same people always
    /// give the same <c>presence</c> bytes whichever host reported them.
    /// </summary>
    public IReadOnlyList<OnlineUser> Online { get; private set; } = [];

    /// <summary>Replaces the host's set and renews its lease. True when the host's set changed.</summary>
    public bool Report(HostPresence report, DateTimeOffset now)
    {
        var lease = report.Lease < TimeSpan.Zero ? TimeSpan.Zero : report.Lease > MaxLease ? MaxLease : report.Lease;
        var users = report.Online.DistinctBy(u => u.UserId).ToDictionary(u => u.UserId, u => u.Name);
        var before = _hosts.GetValueOrDefault(report.HostId);
        if (users.Count == 0) _hosts.Remove(report.HostId);
        else _hosts[report.HostId] = new Entry(users, now + lease);
        var changed = before is null ? users.Count > 0 : !SameUsers(before.Users, users);
        if (changed) Online = Union();
        return changed;
    }

    /// <summary>Drops the hosts whose lease ran out. True when any was dropped.</summary>
    public bool Expire(DateTimeOffset now)
    {
        var expired = _hosts.Where(h => h.Value.ExpiresAt <= now).Select(h => h.Key).ToList();
        foreach (var host in expired) _hosts.Remove(host);
        if (expired.Count > 0) Online = Union();
        return expired.Count > 0;
    }

    private IReadOnlyList<OnlineUser> Union() =>
        _hosts.Values.SelectMany(h => h.Users)
            .DistinctBy(u => u.Key)
            .Select(u => new OnlineUser(u.Key, u.Value))
            .OrderBy(u => u.Name, StringComparer.Ordinal).ThenBy(u => u.UserId, StringComparer.Ordinal)
            .ToList();

    private static bool SameUsers(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(u => b.TryGetValue(u.Key, out var name) && name == u.Value);

    private sealed record Entry(Dictionary<string, string> Users, DateTimeOffset ExpiresAt);
}
