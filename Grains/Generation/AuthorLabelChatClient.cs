using System.Text;
using Microsoft.Extensions.AI;

namespace ChatGrains.Generation;

/// <summary>
/// Writes each user message's author into its text, as "[Ada] …", for the remote models.
/// Several people share a conversation, and the model must know who said what; the chat APIs'
/// own <c>name</c> field does not carry it (OpenAI allows only [a-zA-Z0-9_-]{1,64} there,
/// OpenAI-compatible servers mostly drop it, Ollama has none), so the label goes in the text,
/// where every model sees it. The embedded generator gets the bare prompt.
/// </summary>
public sealed class AuthorLabelChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    private const int MaxNameLength = 64;

    /// <summary>
    /// The label put before a user's text. Brackets, control characters and line breaks are
    /// taken out of the name, so no name can close its label early or fake another message.
    /// </summary>
    public static string Label(string? authorName)
    {
        var name = new StringBuilder();
        foreach (var c in (authorName ?? "").Trim())
        {
            if (name.Length == MaxNameLength) break;
            if (c is '[' or ']') continue;
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                if (name.Length > 0 && name[^1] != ' ') name.Append(' ');
                continue;
            }
            name.Append(c);
        }
        var clean = name.ToString().Trim();
        return $"[{(clean.Length == 0 ? "someone" : clean)}] ";
    }

    public override Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(Labelled(messages), options, cancellationToken);

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(Labelled(messages), options, cancellationToken);

    private static List<ChatMessage> Labelled(IEnumerable<ChatMessage> messages) =>
        messages.Select(m => m.Role == ChatRole.User && m.AuthorName is { } author
            ? new ChatMessage(ChatRole.User, Label(author) + m.Text)
            : m).ToList();
}
