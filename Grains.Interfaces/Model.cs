using System.Text.Json.Serialization;

namespace ChatGrains;

/// <summary>Who is acting: the API passes the signed-in user to the grain.</summary>
[GenerateSerializer, Immutable]
public sealed record Caller([property: Id(0)] string UserId, [property: Id(1)] string Name);

/// <summary>A member of a conversation and their <see cref="MemberRoles">role</see> in it.</summary>
[GenerateSerializer, Immutable]
public sealed record Member([property: Id(0)] string UserId, [property: Id(1)] string Name, [property: Id(2)] string Role);

/// <summary>
/// What a member may do: the owner (the creator) may also remove others, revoke anyone's invite
/// and delete the conversation; every member may rename, invite, leave and post.
/// </summary>
public static class MemberRoles
{
    public const string Owner = "owner";
    public const string Member = "member";
}

/// <summary>
/// The terms of a new invite: it stops working <see cref="ExpiresIn"/> after it was made, or
/// after <see cref="MaxUses"/> joins; null is no limit.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record InviteTerms(
    [property: Id(0)] TimeSpan? ExpiresIn = null,
    [property: Id(1)] int? MaxUses = null)
{
    public static readonly InviteTerms None = new();
}

/// <summary>An invite as members see it (revoked ones are never shown). <see cref="Uses"/> counts joins.</summary>
[GenerateSerializer, Immutable]
public sealed record InviteInfo(
    [property: Id(0)] string InviteToken,
    [property: Id(1)] string CreatedBy,
    [property: Id(2)] DateTimeOffset CreatedAt,
    [property: Id(3), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? ExpiresAt,
    [property: Id(4), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? MaxUses,
    [property: Id(5)] int Uses);

public static class Roles
{
    public const string User = "user";
    public const string Assistant = "assistant";
}

public static class MessageStatus
{
    public const string Queued = "queued";
    public const string Streaming = "streaming";
    public const string Complete = "complete";
    public const string Cancelled = "cancelled";
    public const string Failed = "failed";

    public static bool IsFinal(string status) => status is Complete or Cancelled or Failed;
}

/// <summary>
/// A message as clients see it, in snapshots and in <c>message.created</c>. Messages form a tree:
/// <see cref="ParentId"/> is the message this one follows (null for a first prompt); an
/// assistant message's parent is the prompt it answers, its <see cref="ReplyTo"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Message(
    [property: Id(0)] string Id,
    [property: Id(1)] string Role,
    [property: Id(2)] string AuthorId,
    [property: Id(3)] string AuthorName,
    [property: Id(4)] string Content,
    [property: Id(5)] string Status,
    [property: Id(6), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ReplyTo,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: Id(9), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage = null,
    [property: Id(10)] string? ParentId = null);

/// <summary>
/// The tokens a reply cost: the prompt sent (system prompt and history) and the reply's own, as
/// the model reported them or, when it did not, counted with the o200k tokenizer.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Usage(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens);

/// <summary>
/// A conversation as of <see cref="LastEventId"/>, with its latest messages (event order, all
/// branches); <see cref="HasMore"/>: older ones exist (page back with <see cref="MessagePage"/>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationSnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Title,
    [property: Id(2)] string OwnerId,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] IReadOnlyList<Member> Members,
    [property: Id(5)] IReadOnlyList<Message> Messages,
    [property: Id(6)] long LastEventId,
    [property: Id(7)] string? Head = null,
    [property: Id(8)] bool HasMore = false);

/// <summary>How many messages a snapshot or a page holds: the caller's limit, 1 to <see cref="MaxLimit"/>.</summary>
public static class Paging
{
    public const int DefaultLimit = 200;
    public const int MaxLimit = 1000;
}

/// <summary>Messages in event order, and whether older ones exist (false on the page that holds the first message).</summary>
[GenerateSerializer, Immutable]
public sealed record MessagePage(
    [property: Id(0)] IReadOnlyList<Message> Messages,
    [property: Id(1)] bool HasMore);

/// <summary>
/// What an active conversation holds in memory, for operators and tests: the messages (and tree
/// nodes) and idempotency keys. The rest is in the store.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationFootprint(
    [property: Id(0)] int Messages,
    [property: Id(1)] int TreeNodes,
    [property: Id(2)] int IdempotencyKeys);

/// <summary>
/// Where a new prompt goes: under <see cref="MessageId"/> (an assistant message), or as a new
/// first prompt when it is null. Passing no <see cref="PromptParent"/> at all means the head.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PromptParent([property: Id(0)] string? MessageId)
{
    public static readonly PromptParent Root = new((string?)null);
}

/// <summary>What a fork starts from: the source's title and the path it copies, first prompt first.</summary>
[GenerateSerializer, Immutable]
public sealed record ForkSource(
    [property: Id(0)] string Title,
    [property: Id(1)] IReadOnlyList<Message> Path);

/// <summary>
/// The ids of one prompt-and-reply exchange. <see cref="EventId"/> is the prompt's
/// <c>message.created</c>; <see cref="CompletedEventId"/> is the reply's
/// <c>message.completed</c>, or 0 while the reply is still queued or streaming;
/// <see cref="LastEventId"/> is the conversation's latest id when the receipt was given.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PostReceipt(
    [property: Id(0)] string UserMessageId,
    [property: Id(1)] string AssistantMessageId,
    [property: Id(2)] long EventId,
    [property: Id(3)] long CompletedEventId,
    [property: Id(4)] long LastEventId);

/// <summary>Where a conversation's log stands.</summary>
[GenerateSerializer, Immutable]
public sealed record LogHead(
    [property: Id(0)] long LastEventId,
    [property: Id(1)] bool ReplyInProgress);

/// <summary>
/// A page of the event log. <see cref="FirstAvailableId"/> is the oldest id that can still
/// be replayed: a resume point before <c>FirstAvailableId - 1</c> cannot be served.
/// <see cref="Gone"/>: see <see cref="GoneAfter"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record EventPage(
    [property: Id(0)] IReadOnlyList<ConversationEvent> Events,
    [property: Id(1)] long LastEventId,
    [property: Id(2)] long FirstAvailableId,
    [property: Id(3)] bool ReplyInProgress,
    [property: Id(4)] bool Gone = false)
{
    /// <summary>
    /// The log is gone for good (its conversation was deleted, or never existed): nothing more
    /// will come, and a reader ends its stream. <see cref="Events"/> may still hold its last events.
    /// </summary>
    public static EventPage GoneAfter(IReadOnlyList<ConversationEvent> events, long lastEventId) => new(events, lastEventId, 1, false, true);

    public bool CanResumeFrom(long afterId) => afterId >= FirstAvailableId - 1 && afterId <= LastEventId;
}
