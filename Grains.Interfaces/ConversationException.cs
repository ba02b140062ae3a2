namespace ChatGrains;

public enum ConversationErrorKind
{
    /// <summary>No such conversation, message or invite, or the caller is not a member.</summary>
    NotFound,
    /// <summary>The request conflicts with the current state (e.g. cancelling a finished reply).</summary>
    Conflict,
    /// <summary>An idempotency key was reused with different content.</summary>
    IdempotencyKeyReused,
}

/// <summary>A refusal the API turns into a problem+json response; it changes nothing.</summary>
[GenerateSerializer]
public sealed class ConversationException : Exception
{
    public ConversationException(ConversationErrorKind kind, string message) : base(message) => Kind = kind;

    [Id(0)]
    public ConversationErrorKind Kind { get; init; }

    public static ConversationException NotFound(string what) => new(ConversationErrorKind.NotFound, $"{what} was not found.");
}
