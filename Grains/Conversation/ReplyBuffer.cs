using System.Text;

namespace ChatGrains.Conversation;

/// <summary>
/// The hand-off between a reply's generator, which runs off the grain's scheduler and
/// appends text as it arrives, and the grain's flush timer, which takes whatever has
/// accumulated and publishes it as one <c>message.delta</c>. This is where tokens are
/// coalesced: one event per flush, not per token.
/// </summary>
public sealed class ReplyBuffer
{
    private readonly Lock _gate = new();
    private readonly StringBuilder _pending = new();
    private ReplyOutcome? _outcome;

    public void Append(string text)
    {
        if (string.IsNullOrEmpty(text)) return;
        lock (_gate)
        {
            // Text after the outcome (a late token racing a cancel) is dropped, so the
            // stored reply is always exactly what its deltas said.
            if (_outcome is null) _pending.Append(text);
        }
    }

    /// <summary>Records how the generation ended; the first outcome wins.</summary>
    public void Complete(ReplyOutcome outcome)
    {
        lock (_gate) _outcome ??= outcome;
    }

    /// <summary>The text accumulated since the last call, and the outcome if generation has ended.</summary>
    public (string Text, ReplyOutcome? Outcome) Take()
    {
        lock (_gate)
        {
            var text = _pending.ToString();
            _pending.Clear();
            return (text, _outcome);
        }
    }
}

/// <summary>
/// How a reply's generation ended: a final message status, if it failed, why, and the tokens it
/// cost when known (not for a reply stopped by a user or interrupted by a crash).
/// </summary>
public sealed record ReplyOutcome(string Status, string? Error = null, Usage? Usage = null)
{
    public static readonly ReplyOutcome Completed = new(MessageStatus.Complete);
    public static readonly ReplyOutcome Cancelled = new(MessageStatus.Cancelled);
    public static readonly ReplyOutcome Interrupted = new(MessageStatus.Failed, "interrupted");
    public static readonly ReplyOutcome Deleted = new(MessageStatus.Cancelled, MessageCompletedData.DeletedError);
}
