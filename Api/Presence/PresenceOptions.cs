namespace ChatGrains.Api.Presence;

/// <summary>How this host reports its watchers to the presence grains (section <c>Presence</c>).</summary>
public sealed class PresenceOptions
{
    public const string SectionName = "Presence";

    /// <summary>
    /// How often the host reports each conversation it has watchers in, changed or not. Each
    /// report renews the host's lease there.
    /// </summary>
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a report counts. A host that dies (kill -9) stops counting this long after
    /// its last renewal, plus up to a second for the grain's check; three renewals fit in it,
    /// so one lost or slow renewal never makes anybody flicker offline.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long arrivals and departures gather before they are reported: a burst of connects
    /// becomes one report per conversation, not one per connection.
    /// </summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}
