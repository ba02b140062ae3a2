using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace ChatGrains.Api;

/// <summary>
/// Failures that pass by themselves: the conversation store is away, or a silo died and the
/// cluster is recovering. A request is answered 503 with Retry-After (<see cref="ProblemMapping"/>);
/// a stream that is already open waits them out instead of dropping its client.
/// </summary>
public static class PassingTrouble
{
    public static bool IsStoreUnavailable(Exception e) => e is ConversationException { Kind: ConversationErrorKind.StoreUnavailable };

    public static bool IsClusterRecovering(Exception e) =>
        e is TimeoutException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException;

    public static bool Is(Exception e) => IsStoreUnavailable(e) || IsClusterRecovering(e);
}
