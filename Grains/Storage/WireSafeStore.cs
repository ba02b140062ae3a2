using Microsoft.Extensions.Logging;

namespace ChatGrains.Storage;

/// <summary>
/// The store as the grains see it: when the database fails (the driver's <see cref="DbException"/>,
/// or a timeout), the caller gets <see cref="ConversationErrorKind.StoreUnavailable"/> instead. A
/// driver's exception has no Orleans codec: thrown from a grain it reached the API host as a
/// CodecNotFoundException and became a 500. This one crosses the wire and becomes a 503 with
/// Retry-After. The cause is logged here, while it can still be read.
/// </summary>
public sealed class WireSafeStore(IConversationStore inner, ILogger<WireSafeStore> logger) : IConversationStore, IAsyncDisposable
{
    public Task InitializeAsync(CancellationToken cancellationToken = default) => inner.InitializeAsync(cancellationToken);

    public Task<StoredConversation?> LoadAsync(string conversationId, LoadWindow? window = null, CancellationToken cancellationToken = default) =>
        Guard(() => inner.LoadAsync(conversationId, window, cancellationToken), nameof(LoadAsync));

    public Task<StoredMessage?> ReadMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadMessageAsync(conversationId, messageId, cancellationToken), nameof(ReadMessageAsync));

    public Task<IReadOnlyList<StoredMessage>> ReadMessagesBeforeAsync(string conversationId, long beforeEventId, int max, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadMessagesBeforeAsync(conversationId, beforeEventId, max, cancellationToken), nameof(ReadMessagesBeforeAsync));

    public Task<IReadOnlyList<StoredMessage>> ReadPathAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadPathAsync(conversationId, messageId, cancellationToken), nameof(ReadPathAsync));

    public Task<IReadOnlyList<StoredMessage>> ReadChildrenAsync(string conversationId, string parentId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadChildrenAsync(conversationId, parentId, cancellationToken), nameof(ReadChildrenAsync));

    public Task<IdempotencyRecord?> ReadKeyAsync(string conversationId, string userId, string key, DateTimeOffset since, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadKeyAsync(conversationId, userId, key, since, cancellationToken), nameof(ReadKeyAsync));

    public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            await inner.CommitAsync(commit, cancellationToken);
            return true;
        }, nameof(CommitAsync));

    public Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadEventsAsync(conversationId, afterId, max, cancellationToken), nameof(ReadEventsAsync));

    public Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadDurabilityAsync(cancellationToken), nameof(ReadDurabilityAsync));

    public ValueTask DisposeAsync() => inner is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;

    private Task<T> Guard<T>(Func<Task<T>> call, string operation) => StoreFailure.Guard(call, logger, "conversation", operation);
}
