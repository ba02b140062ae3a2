namespace ChatGrains.Storage;

/// <summary>
/// Where conversations are kept. One small interface, implemented for SQLite (the embedded
/// default) and again for PostgreSQL in a cluster. A commit is atomic: its events, and the
/// rows they change, are all stored or none are. The primary key on (conversation, event id)
/// is what finally guarantees that an id is never handed out twice, even if two activations
/// of one conversation briefly exist.
/// </summary>
public interface IConversationStore
{
    /// <summary>Creates or migrates the schema. Called once at start-up.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The conversation's durable state, or null if it was never created: every message and key,
    /// or with a <paramref name="window"/> only what an activation holds (see <see cref="LoadWindow"/>).
    /// </summary>
    Task<StoredConversation?> LoadAsync(string conversationId, LoadWindow? window = null, CancellationToken cancellationToken = default);

    /// <summary>One stored message, or null.</summary>
    Task<StoredMessage?> ReadMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The latest <paramref name="max"/> messages created before event <paramref name="beforeEventId"/>,
    /// oldest first (event order, all branches): a page of the history.
    /// </summary>
    Task<IReadOnlyList<StoredMessage>> ReadMessagesBeforeAsync(string conversationId, long beforeEventId, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// The stored messages from the first prompt down to <paramref name="messageId"/>, both
    /// included, following parent ids (a recursive query); empty when it is not stored.
    /// </summary>
    Task<IReadOnlyList<StoredMessage>> ReadPathAsync(string conversationId, string messageId, CancellationToken cancellationToken = default);

    /// <summary>The stored messages that follow <paramref name="parentId"/>, oldest first.</summary>
    Task<IReadOnlyList<StoredMessage>> ReadChildrenAsync(string conversationId, string parentId, CancellationToken cancellationToken = default);

    /// <summary>The user's idempotency key in this conversation if it was stored at or after <paramref name="since"/>.</summary>
    Task<IdempotencyRecord?> ReadKeyAsync(string conversationId, string userId, string key, DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores one atomic change. Throws if any event id already exists (the caller must
    /// then reload: another activation has written ahead of it).
    /// </summary>
    Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default);

    /// <summary>Stored events with id &gt; <paramref name="afterId"/>, oldest first.</summary>
    Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether an acknowledged commit survives power loss, as the database reports its settings
    /// for the store's own sessions (logged at start-up). An id is never reused only if it does.
    /// </summary>
    Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// <see cref="CommitWaitsForDisk"/>: a commit is acknowledged only once the database has synced
/// it to disk. <see cref="Settings"/>: the settings that decide it, as the database reported them.
/// </summary>
public sealed record StoreDurability(bool CommitWaitsForDisk, string Settings);

/// <summary>The conversation row.</summary>
public sealed record ConversationInfo(string Id, string Title, string OwnerId, DateTimeOffset CreatedAt);

/// <summary>
/// A message with the ids of the events that created and completed it (0 while not
/// completed). Ordering of messages is by <see cref="CreatedEventId"/>. <see cref="RequestedBy"/>,
/// on an assistant message: the user its usage is charged to (who posted its prompt, or asked
/// to regenerate it); it is not part of the wire message.
/// </summary>
public sealed record StoredMessage(Message Message, long CreatedEventId, long CompletedEventId, string? RequestedBy = null);

/// <summary>
/// What one reply cost <see cref="UserId"/>, on the UTC <see cref="Day"/> it ended. Stored in the
/// same transaction as the reply's <c>message.completed</c>, keyed by <see cref="ReplyId"/>: a
/// charge is never lost with a silo that dies after the commit, and never counted twice.
/// </summary>
public sealed record UsageCharge(string ReplyId, string UserId, DateOnly Day, string ConversationId, Usage Usage);

/// <summary>
/// A member's row: <see cref="JoinedEventId"/> is the id of their <c>member.joined</c> (0 for the
/// creator), where their history in the conversation starts.
/// </summary>
public sealed record StoredMember(Member Member, long JoinedEventId);

/// <summary>
/// An invite: it lets people join until it expires, reaches <see cref="MaxUses"/> joins, or is
/// revoked (a revoked row is kept, so its token stays unknown rather than free).
/// </summary>
public sealed record Invite(
    string Token, string CreatedBy, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt = null, int? MaxUses = null, int Uses = 0, bool Revoked = false);

/// <summary>
/// An idempotency key (scoped to the user and the conversation), its exchange and when it was
/// first used (keys older than the retention are deleted, see <see cref="ConversationCommit.PruneKeysBefore"/>).
/// </summary>
public sealed record IdempotencyRecord(string UserId, string Key, string ContentHash, PostReceiptIds Exchange, DateTimeOffset CreatedAt = default);

/// <summary>
/// What an activation loads: the latest <see cref="RecentMessages"/> messages, and whatever
/// older ones it must hold (every queued or streaming reply and the prompt it answers, the head);
/// the latest <see cref="RecentKeys"/> idempotency keys stored since <see cref="KeysSince"/>.
/// </summary>
public sealed record LoadWindow(int RecentMessages, int RecentKeys, DateTimeOffset KeysSince);

/// <summary>The message ids and the prompt's event id of an exchange.</summary>
public sealed record PostReceiptIds(string UserMessageId, string AssistantMessageId, long EventId);

public sealed record StoredConversation(
    ConversationInfo Info,
    IReadOnlyList<StoredMember> Members,
    IReadOnlyList<StoredMessage> Messages,
    IReadOnlyList<Invite> Invites,
    IReadOnlyList<IdempotencyRecord> IdempotencyKeys,
    long LastEventId,
    DateTimeOffset LastActivityAt,
    /// <summary>The oldest event id still stored (LastEventId + 1 when none is).</summary>
    long FirstStoredEventId,
    /// <summary>The shared head (an assistant message id), or null.</summary>
    string? Head = null,
    /// <summary>The created event id of the conversation's first message (0 when it has none).</summary>
    long FirstMessageEventId = 0,
    /// <summary>False when the load window left out idempotency keys stored since its KeysSince.</summary>
    bool AllRecentKeys = true);

/// <summary>
/// One atomic change to a conversation. <see cref="Created"/> is set only by the commit that
/// creates the conversation. <see cref="Messages"/> are upserted whole (a message row is
/// written when created and when completed; deltas live only in <see cref="Events"/>, so a
/// batch of tokens costs O(batch)). <see cref="Invites"/> are upserted whole too (a join
/// counts a use, a revoke marks it). Events before <see cref="PruneEventsBefore"/> may be
/// deleted (retention). <see cref="Title"/> is set when the conversation was renamed;
/// <see cref="RemovedMembers"/> are user ids whose member rows go. <see cref="Delete"/> ends the
/// conversation: after the commit's other rows, every row of it is deleted, in the same transaction.
/// <see cref="Head"/> is set when the shared head moved. Idempotency keys stored before
/// <see cref="PruneKeysBefore"/> are deleted, before this commit's keys are stored.
/// </summary>
public sealed record ConversationCommit(
    string ConversationId,
    ConversationInfo? Created,
    IReadOnlyList<ConversationEvent> Events,
    IReadOnlyList<StoredMember> Members,
    IReadOnlyList<StoredMessage> Messages,
    IReadOnlyList<Invite> Invites,
    IReadOnlyList<IdempotencyRecord> IdempotencyKeys,
    long LastEventId,
    DateTimeOffset LastActivityAt,
    long PruneEventsBefore = 0,
    string? Title = null,
    IReadOnlyList<string>? RemovedMembers = null,
    bool Delete = false,
    string? Head = null,
    IReadOnlyList<UsageCharge>? Charges = null,
    DateTimeOffset? PruneKeysBefore = null)
{
    public IReadOnlyList<string> RemovedMemberIds => RemovedMembers ?? [];

    /// <summary>The replies this commit completes with a known usage, charged to who asked for them.</summary>
    public IReadOnlyList<UsageCharge> UsageCharges => Charges ?? [];
}
