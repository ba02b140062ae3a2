namespace ChatGrains;

public enum ConversationErrorKind
{
    /// <summary>No such conversation, message or invite, or the caller is not a member.</summary>
    NotFound,
    /// <summary>The request conflicts with the current state (e.g. cancelling a finished reply).</summary>
    Conflict,
    /// <summary>An idempotency key was reused with different content.</summary>
    IdempotencyKeyReused,
    /// <summary>
    /// The conversation store could not be reached or failed; nothing was changed, and the same
    /// request may succeed once it is back. Carries no driver exception: those have no Orleans codec.
    /// </summary>
    StoreUnavailable,
    // New kinds go last: the values travel between silos and hosts of different versions.
    /// <summary>A member asked for what only the owner (or, for an invite, its creator) may do.</summary>
    Forbidden,
    /// <summary>The request names something of the wrong kind (a user message where a reply is needed).</summary>
    BadRequest,
    /// <summary>The caller has used their tokens for the day (see <see cref="ConversationException.ResetsAt"/>).</summary>
    OverBudget,
}

/// <summary>A refusal the API turns into a problem+json response; it changes nothing.</summary>
[GenerateSerializer]
public sealed class ConversationException : Exception
{
    public ConversationException(ConversationErrorKind kind, string message) : base(message) => Kind = kind;

    [Id(0)]
    public ConversationErrorKind Kind { get; init; }

    /// <summary>For <see cref="ConversationErrorKind.OverBudget"/>: when the budget starts again (the next UTC midnight).</summary>
    [Id(1)]
    public DateTimeOffset? ResetsAt { get; init; }

    /// <summary>For <see cref="ConversationErrorKind.OverBudget"/>: whole seconds until <see cref="ResetsAt"/>, at least 1, by the grain's clock.</summary>
    [Id(2)]
    public int RetryAfterSeconds { get; init; }

    public static ConversationException NotFound(string what) => new(ConversationErrorKind.NotFound, $"{what} was not found.");

    public static ConversationException Forbidden(string detail) => new(ConversationErrorKind.Forbidden, detail);

    public static ConversationException Conflict(string detail) => new(ConversationErrorKind.Conflict, detail);

    public static ConversationException BadRequest(string detail) => new(ConversationErrorKind.BadRequest, detail);

    public static ConversationException OverBudget(DateTimeOffset resetsAt, int retryAfterSeconds) =>
        new(ConversationErrorKind.OverBudget, $"You have used today's token budget; it resets at {resetsAt:yyyy-MM-dd HH:mm} UTC.")
        {
            ResetsAt = resetsAt,
            RetryAfterSeconds = retryAfterSeconds,
        };

    public static ConversationException StoreUnavailable() =>
        new(ConversationErrorKind.StoreUnavailable, "The conversation store is unavailable; try again shortly.");
}
