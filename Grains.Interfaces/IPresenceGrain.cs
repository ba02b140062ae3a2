namespace ChatGrains;

/// <summary>
/// Who is watching one conversation (key: the conversation id), cluster-wide, and who is typing
/// in it. Each API host reports the members it has at least one open watch stream for, as one
/// whole set per conversation, and renews that report within its lease; the online list is the
/// union of the hosts' sets whose leases have not run out, so a host that dies without a word
/// stops counting when its lease does. Changes go out as <c>presence</c> and <c>typing</c>
/// events with id 0 on the conversation's own stream: never stored, never replayed. Nothing
/// here is durable: after a silo loss the grain starts empty and the hosts' next renewals
/// fill it again.
/// </summary>
public interface IPresenceGrain : IGrainWithStringKey
{
    /// <summary>
    /// Replaces what one host reported before with <paramref name="report"/> and renews its lease.
    /// An empty set withdraws the host.
    /// </summary>
    Task ReportAsync(HostPresence report);

    /// <summary>Forwards a <c>typing</c> event, unless this user's last one went out less than 2 s ago.</summary>
    Task TypingAsync(Caller caller);

    /// <summary>The members online now, in the order the <c>presence</c> event lists them.</summary>
    Task<IReadOnlyList<OnlineUser>> GetOnlineAsync();
}

/// <summary>
/// One API host's whole view of a conversation: the members it has a watch stream open for.
/// <see cref="HostId"/> is unique per process start, so a restarted host never inherits the
/// entry of the process it replaces; the entry counts until <see cref="Lease"/> after this report.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record HostPresence(
    [property: Id(0)] string HostId,
    [property: Id(1)] IReadOnlyList<OnlineUser> Online,
    [property: Id(2)] TimeSpan Lease)
{
    /// <summary>The longest lease a host may ask for: a dead host's watchers never count for longer.</summary>
    public static readonly TimeSpan MaxLease = TimeSpan.FromMinutes(1);
}

/// <summary>A member with at least one open watch stream, as <c>presence</c> lists them.</summary>
[GenerateSerializer, Immutable]
public sealed record OnlineUser([property: Id(0)] string UserId, [property: Id(1)] string Name);

/// <summary>The <c>presence</c> event's data: <c>{"online": [{"userId", "name"}]}</c>.</summary>
public sealed record PresenceData(IReadOnlyList<OnlineUser> Online);

/// <summary>The <c>typing</c> event's data: <c>{"userId", "name"}</c>.</summary>
public sealed record TypingData(string UserId, string Name);

/// <summary>The ephemeral event types: sent with id 0 and no <c>id:</c> line, never stored or replayed.</summary>
public static class EphemeralEvents
{
    public const string Presence = "presence";
    public const string Typing = "typing";

    public static bool Is(ConversationEvent e) => e.Id == 0 && e.Type is Presence or Typing;
}
