using System.Diagnostics;
using ChatGrains.Generation;
using ChatGrains.Telemetry;

namespace ChatGrains.Conversation;

/// <summary>The reply being generated: its buffer, and the means to stop its generator.</summary>
public sealed class ActiveReply
{
    private readonly CancellationTokenSource _stop = new();
    private Task _generation = Task.CompletedTask;

    private ActiveReply(string messageId, ReplySpan span) => (MessageId, Span) = (messageId, span);

    public string MessageId { get; }

    /// <summary>The reply's span: the generator (and its model request) runs inside it.</summary>
    public ReplySpan Span { get; }
    public ReplyBuffer Buffer { get; } = new();

    /// <summary>
    /// Starts generation on the thread pool, not on the grain's scheduler: tokens land in
    /// the buffer while the grain keeps answering calls.
    /// </summary>
    /// <param name="path">The messages from the first prompt to the prompt being answered.</param>
    /// <param name="sibling">How many replies to that prompt came before this one (see <see cref="ReplyGenerator.RunAsync"/>).</param>
    public static ActiveReply Start(string messageId, IReadOnlyList<Message> path, int sibling, ReplyGenerator generator, ReplySpan span)
    {
        var reply = new ActiveReply(messageId, span);
        reply._generation = Task.Run(() =>
        {
            Activity.Current = span.Activity;
            return generator.RunAsync(path, reply.Buffer, reply._stop.Token, sibling);
        });
        return reply;
    }

    /// <summary>Stops the reply for everyone: it ends cancelled even if its last token races the stop.</summary>
    public void Cancel()
    {
        Buffer.Complete(ReplyOutcome.Cancelled);
        _stop.Cancel();
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await _generation;
    }
}
