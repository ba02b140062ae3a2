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

    Task<ConversationSnapshot> GetSnapshotAsync(string userId);

    /// <summary>Checks membership and returns where the log stands.</summary>
    Task<LogHead> GetHeadAsync(string userId);

    Task<string> CreateInviteAsync(string userId);

    Task JoinAsync(Caller caller, string inviteToken);

    /// <summary>
    /// Posts a prompt and queues its reply. A repeated idempotency key returns the first
    /// exchange's receipt and creates nothing.
    /// </summary>
    Task<PostReceipt> PostAsync(Caller caller, string content, string? idempotencyKey);

    Task CancelAsync(string userId, string messageId);
}

/// <summary>The conversations a user belongs to, most recent activity first.</summary>
public interface IConversationDirectoryGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<ConversationSummary>> ListAsync(string userId);
}
