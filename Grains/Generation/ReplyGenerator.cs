using ChatGrains.Conversation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Generation;

/// <summary>
/// Runs one reply: turns the conversation so far into chat messages, streams the model's
/// answer through <see cref="IChatClient"/> into a <see cref="ReplyBuffer"/>, and records
/// how it ended. It never throws: every ending is an outcome the grain publishes.
/// </summary>
public sealed class ReplyGenerator(IChatClient chatClient, ILogger<ReplyGenerator> logger)
{
    public async Task RunAsync(IReadOnlyList<Message> history, ReplyBuffer buffer, CancellationToken cancellationToken)
    {
        try
        {
            var messages = ToChatMessages(history);
            await foreach (var update in chatClient.GetStreamingResponseAsync(messages, cancellationToken: cancellationToken))
            {
                buffer.Append(update.Text);
            }
            buffer.Complete(ReplyOutcome.Completed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            buffer.Complete(ReplyOutcome.Cancelled);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Reply generation failed");
            buffer.Complete(new ReplyOutcome(MessageStatus.Failed, $"The model failed: {ex.Message}"));
        }
    }

    /// <summary>
    /// The conversation as the model sees it: finished messages in order, each user prompt
    /// carrying its author's name, since several people share a conversation.
    /// </summary>
    public static List<ChatMessage> ToChatMessages(IReadOnlyList<Message> history) =>
        history
            .Where(m => m.Role == Roles.User || (m.Status == MessageStatus.Complete && m.Content.Length > 0))
            .Select(m => new ChatMessage(m.Role == Roles.User ? ChatRole.User : ChatRole.Assistant, m.Content)
            {
                AuthorName = m.Role == Roles.User ? m.AuthorName : null,
            })
            .ToList();
}
