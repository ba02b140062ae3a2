using Orleans.Concurrency;
using Orleans.Runtime;

namespace ChatGrains;

/// <summary>
/// One user's view of their conversations: the list (with their role, unread count and read
/// position), their read positions, and their own numbered event log, which
/// <c>/api/me/events</c> streams. Conversation grains tell it, after each commit that matters,
/// that a conversation changed for this user; those are hints only: the grain reads the truth
/// from the store, and reconciles its whole list on activation and periodically, so a lost
/// hint converges.
/// </summary>
public interface IUserGrain : IGrainWithStringKey, IEventLog
{
    /// <summary>The user's conversations as they are now, most recent activity first.</summary>
    Task<IReadOnlyList<ConversationListItem>> ListAsync();

    /// <summary>
    /// Moves the read position in a conversation forward to <paramref name="lastEventId"/> (never
    /// back). The caller has checked membership and clamped the id to the conversation's latest.
    /// </summary>
    Task MarkReadAsync(string conversationId, long lastEventId);

    /// <summary>
    /// "Conversation X changed for you." One-way: a conversation never waits for its members'
    /// grains. <paramref name="removal"/> is the reason when the user left or lost it. Interleaves:
    /// the grain only notes the hint, and reads what changed in turn with its other work.
    /// </summary>
    [OneWay, AlwaysInterleave]
    Task ConversationChangedAsync(string conversationId, ConversationChangeKind kind, string? removal = null);

    /// <summary>
    /// The tokens charged to the user today (UTC) and the daily budget. Interleaves with the list's
    /// work: it reads only the charges, so posting never waits behind a reconcile.
    /// </summary>
    [AlwaysInterleave]
    Task<TokenUsage> GetUsageAsync();

    /// <summary>
    /// Throws <see cref="ConversationErrorKind.OverBudget"/> when the user is at or over today's
    /// budget; a conversation asks before it creates a prompt's reply.
    /// </summary>
    [AlwaysInterleave]
    Task EnsureWithinBudgetAsync();
}

/// <summary>
/// <c>GET /api/me/usage</c>: the tokens charged to the user on the current UTC day (prompt and
/// completion, summed over the replies that ended today), the daily budget (0: no limit) and
/// when the day ends.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TokenUsage(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens,
    [property: Id(2)] long Limit,
    [property: Id(3)] DateTimeOffset ResetsAt);

public enum ConversationChangeKind
{
    /// <summary>A message was created or completed, the title changed, someone came or went.</summary>
    Activity,
    /// <summary>The user created or joined it.</summary>
    Added,
    /// <summary>The user left, was removed, or it was deleted (see <see cref="RemovalReasons"/>).</summary>
    Removed,
}

public static class RemovalReasons
{
    public const string Left = "left";
    public const string Removed = "removed";
    public const string Deleted = "deleted";
}

/// <summary>
/// An item of <c>GET /api/conversations</c> and of the user's stream. <see cref="Unread"/> counts
/// the messages created by others (other members' prompts and every reply) after
/// <see cref="LastReadEventId"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationListItem(
    [property: Id(0)] string Id,
    [property: Id(1)] string Title,
    [property: Id(2)] string OwnerId,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] DateTimeOffset LastActivityAt,
    [property: Id(5)] string Role,
    [property: Id(6)] int Unread,
    [property: Id(7)] long LastReadEventId);

/// <summary>The user's own events: each carries the whole item, so applying them in order gives the list.</summary>
public static class UserEventTypes
{
    public const string ConversationAdded = "conversation.added";
    public const string ConversationUpdated = "conversation.updated";
    public const string ConversationRemoved = "conversation.removed";
}

public sealed record ConversationRemovedData(string Id, string Reason);

/// <summary>Where user grains publish their events: the conversations' stream provider, namespace "user".</summary>
public static class UserStreams
{
    public const string Namespace = "user";

    public static StreamId For(string userId) => StreamId.Create(Namespace, userId);
}
