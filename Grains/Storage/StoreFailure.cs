using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Storage;

/// <summary>
/// What the wire-safe stores do with a database failure (the driver's <see cref="DbException"/>,
/// or a timeout): log the cause while it can still be read, and throw
/// <see cref="ConversationErrorKind.StoreUnavailable"/> instead, which crosses the wire.
/// </summary>
internal static partial class StoreFailure
{
    public static async Task<T> Guard<T>(Func<Task<T>> call, ILogger logger, string store, string operation)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is DbException or TimeoutException)
        {
            LogStoreFailed(logger, ex, store, operation);
            throw ConversationException.StoreUnavailable();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Store} store failed in {Operation}; the caller is told it is unavailable")]
    private static partial void LogStoreFailed(ILogger logger, Exception ex, string store, string operation);
}
