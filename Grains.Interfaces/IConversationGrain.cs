namespace ChatGrains;

/// <summary>
/// One conversation: its members, messages and numbered event log. Every change is an
/// event with the next id, durable before it is published on the conversation's stream.
/// Methods that take a user id answer <see cref="ConversationErrorKind.NotFound"/> to
/// anyone who is not a member, so a conversation's existence is never revealed.
/// </summary>
public interface IConversationGrain : IGrainWithStringKey, IEventLog
{
    Task<ConversationSnapshot> CreateAsync(Caller owner, string? title);

    /// <summary>The snapshot with the latest <paramref name="limit"/> messages (the API allows 1 to 1000).</summary>
    Task<ConversationSnapshot> GetSnapshotAsync(string userId, int limit = Paging.DefaultLimit);

    /// <summary>
    /// The <paramref name="limit"/> messages before <paramref name="beforeMessageId"/> (null: the
    /// latest), in event order; an unknown message is NotFound.
    /// </summary>
    Task<MessagePage> GetMessagesAsync(string userId, string? beforeMessageId, int limit = Paging.DefaultLimit);

    /// <summary>An operator diagnostic: what this activation holds in memory (activates it).</summary>
    Task<ConversationFootprint> GetFootprintAsync();

    /// <summary>Checks membership and returns where the log stands.</summary>
    Task<LogHead> GetHeadAsync(string userId);

    /// <summary>An invite with no limits; its token.</summary>
    Task<string> CreateInviteAsync(string userId);

    /// <summary>An invite that expires or runs out of uses as <paramref name="terms"/> say.</summary>
    Task<InviteInfo> InviteAsync(string userId, InviteTerms terms);

    /// <summary>The conversation's invites, used-up and expired ones included, revoked ones not.</summary>
    Task<IReadOnlyList<InviteInfo>> ListInvitesAsync(string userId);

    /// <summary>Revokes an invite: the owner may revoke any, a member their own (else Forbidden).</summary>
    Task RevokeInviteAsync(string userId, string inviteToken);

    /// <summary>
    /// Joins with an invite (an expired, used-up or revoked one is NotFound, as an unknown one);
    /// the join counts as one use. A member joining again changes nothing.
    /// </summary>
    Task JoinAsync(Caller caller, string inviteToken);

    /// <summary>Renames the conversation (any member); <paramref name="title"/> is already validated.</summary>
    Task<ConversationSnapshot> RenameAsync(string userId, string title);

    /// <summary>
    /// Removes <paramref name="memberId"/>: themself (leaving), or anyone else when the caller is the
    /// owner (else Forbidden). The owner cannot leave (Conflict); a non-member target is NotFound.
    /// </summary>
    Task RemoveMemberAsync(string userId, string memberId);

    /// <summary>
    /// Deletes the conversation (the owner only, else Forbidden): open replies end cancelled, the
    /// last event is <c>conversation.deleted</c>, and every row of it leaves the store.
    /// </summary>
    Task DeleteAsync(string userId);

    /// <summary>
    /// Posts a prompt and queues its reply; the head moves to the reply. The prompt follows
    /// <paramref name="parent"/> (null: the head); a parent that already has children starts a
    /// branch. An unknown parent is NotFound, a user message as parent BadRequest. A repeated
    /// idempotency key returns the first exchange's receipt and creates nothing.
    /// </summary>
    Task<PostReceipt> PostAsync(Caller caller, string content, string? idempotencyKey, PromptParent? parent = null);

    /// <summary>
    /// Queues a new reply to the prompt a final assistant message answered (a sibling of it);
    /// the head moves to it. A user message is BadRequest, an unfinished reply Conflict.
    /// Idempotency keys share one namespace with <see cref="PostAsync"/>.
    /// </summary>
    Task<PostReceipt> RegenerateAsync(Caller caller, string messageId, string? idempotencyKey);

    /// <summary>Moves the shared head to an assistant message (a user message is BadRequest); the snapshot.</summary>
    Task<ConversationSnapshot> SetHeadAsync(string userId, string messageId);

    /// <summary>The title and the path up to a final assistant message, for a fork (BadRequest, Conflict as for regenerate).</summary>
    Task<ForkSource> GetForkSourceAsync(string userId, string messageId);

    /// <summary>Creates this conversation as a fork of <paramref name="source"/>, owned by <paramref name="owner"/> alone.</summary>
    Task<ConversationSnapshot> CreateForkAsync(Caller owner, ForkSource source);

    Task CancelAsync(string userId, string messageId);
}
