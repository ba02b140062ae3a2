namespace ChatGrains.Storage;

/// <summary>
/// A user's data, in the same database as the conversations: their read positions, their own
/// event log, and the list as that log last described it. The list items themselves (title,
/// role, unread count) are read from the conversation tables, so they are always the truth.
/// Implemented for SQLite and PostgreSQL; the schema comes with the conversation store's
/// migrations, so <see cref="IConversationStore.InitializeAsync"/> must have run first.
/// </summary>
public interface IUserStore
{
    /// <summary>The user's conversations as they are now, most recent activity first.</summary>
    Task<IReadOnlyList<ConversationListItem>> ListAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>One conversation as the user sees it now; <see cref="UserConversation.Item"/> is null when they are not a member.</summary>
    Task<UserConversation> FindAsync(string userId, string conversationId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves the stored read position forward to <paramref name="lastEventId"/>; a lower value
    /// changes nothing. The position a list item reports is the greatest of this, the event
    /// that made the user a member, and the user's own latest prompt.
    /// </summary>
    Task SaveReadPositionAsync(string userId, string conversationId, long lastEventId, CancellationToken cancellationToken = default);

    /// <summary>The user's log: where it stands, and the list as its events described it.</summary>
    Task<StoredUserLog> LoadLogAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores one atomic change of the user's log: its events and the list rows they change.
    /// Throws if an event id already exists (another activation wrote ahead: reload).
    /// </summary>
    Task CommitAsync(UserCommit commit, CancellationToken cancellationToken = default);

    /// <summary>Stored events with id &gt; <paramref name="afterId"/>, oldest first.</summary>
    Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string userId, long afterId, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// The tokens charged to the user on one UTC day: the sum of the <see cref="UsageCharge"/>s
    /// that conversation commits stored for them (zero when none).
    /// </summary>
    Task<Usage> ReadUsageAsync(string userId, DateOnly day, CancellationToken cancellationToken = default);
}

/// <summary>The truth for one conversation: the user's item, or null, and whether the conversation still exists.</summary>
public sealed record UserConversation(ConversationListItem? Item, bool ConversationExists);

/// <summary>
/// <see cref="Listed"/>: the items as the log's events left them (what a client that applied
/// them holds). <see cref="FirstStoredEventId"/> is LastEventId + 1 when no event is stored.
/// </summary>
public sealed record StoredUserLog(IReadOnlyList<ConversationListItem> Listed, long LastEventId, long FirstStoredEventId);

/// <summary>
/// One atomic change of a user's log. <see cref="Listed"/> rows are upserted, <see cref="Unlisted"/>
/// deleted (with their read positions, once the user is no longer a member). Events before
/// <see cref="PruneEventsBefore"/> may be deleted (retention). <see cref="Deleted"/>: conversations
/// that no longer exist, whose title is blanked in the user's stored events (a deleted
/// conversation's data is gone; the events keep their ids, so replay has no gap).
/// </summary>
public sealed record UserCommit(
    string UserId,
    IReadOnlyList<ConversationEvent> Events,
    IReadOnlyList<ConversationListItem> Listed,
    IReadOnlyList<string> Unlisted,
    long PruneEventsBefore = 0,
    IReadOnlyList<string>? Deleted = null);
