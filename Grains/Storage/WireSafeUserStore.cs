using Microsoft.Extensions.Logging;

namespace ChatGrains.Storage;

/// <summary>
/// The user store as the grains see it: a database failure reaches the caller as
/// <see cref="ConversationErrorKind.StoreUnavailable"/> (a 503 with Retry-After), as
/// <see cref="WireSafeStore"/> does for conversations, never as a driver exception with no codec.
/// </summary>
public sealed class WireSafeUserStore(IUserStore inner, ILogger<WireSafeUserStore> logger) : IUserStore, IAsyncDisposable
{
    public Task<IReadOnlyList<ConversationListItem>> ListAsync(string userId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ListAsync(userId, cancellationToken), nameof(ListAsync));

    public Task<UserConversation> FindAsync(string userId, string conversationId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.FindAsync(userId, conversationId, cancellationToken), nameof(FindAsync));

    public Task SaveReadPositionAsync(string userId, string conversationId, long lastEventId, CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            await inner.SaveReadPositionAsync(userId, conversationId, lastEventId, cancellationToken);
            return true;
        }, nameof(SaveReadPositionAsync));

    public Task<StoredUserLog> LoadLogAsync(string userId, CancellationToken cancellationToken = default) =>
        Guard(() => inner.LoadLogAsync(userId, cancellationToken), nameof(LoadLogAsync));

    public Task CommitAsync(UserCommit commit, CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            await inner.CommitAsync(commit, cancellationToken);
            return true;
        }, nameof(CommitAsync));

    public Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string userId, long afterId, int max, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadEventsAsync(userId, afterId, max, cancellationToken), nameof(ReadEventsAsync));

    public Task<Usage> ReadUsageAsync(string userId, DateOnly day, CancellationToken cancellationToken = default) =>
        Guard(() => inner.ReadUsageAsync(userId, day, cancellationToken), nameof(ReadUsageAsync));

    public ValueTask DisposeAsync() => inner is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;

    private Task<T> Guard<T>(Func<Task<T>> call, string operation) => StoreFailure.Guard(call, logger, "user", operation);
}
