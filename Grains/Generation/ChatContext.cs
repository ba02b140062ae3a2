using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ChatGrains.Generation;

/// <summary>
/// What the model is shown of a conversation: the system prompt, then the history in order —
/// every user prompt with its author's name, and each assistant reply that completed — trimmed
/// from the oldest message so the whole fits <c>maxTokens</c> o200k tokens. The prompt being
/// answered is always kept, even alone over the budget, and the window never opens on an
/// assistant reply (chat templates that expect user/assistant turns reject that).
/// </summary>
public sealed class ChatContext(string systemPrompt, int maxTokens)
{
    // Each message costs a few tokens of framing beyond its text (role, separators), as in
    // OpenAI's own accounting.
    private const int TokensPerMessage = 4;

    private readonly int _systemPromptTokens = string.IsNullOrEmpty(systemPrompt) ? 0 : TokensPerMessage + TokenCounter.Count(systemPrompt);

    public ChatWindow Build(IReadOnlyList<Message> history)
    {
        var candidates = history
            .Where(m => m.Role == Roles.User || (m.Status == MessageStatus.Complete && m.Content.Length > 0))
            .ToList();

        var tokens = _systemPromptTokens;
        var first = candidates.Count;
        while (first > 0)
        {
            var cost = CostOf(candidates[first - 1]);
            if (first < candidates.Count && tokens + cost > maxTokens) break;
            tokens += cost;
            first--;
        }
        while (first < candidates.Count - 1 && candidates[first].Role != Roles.User)
        {
            tokens -= CostOf(candidates[first]);
            first++;
        }

        var messages = new List<ChatMessage>(candidates.Count - first + 1);
        if (!string.IsNullOrEmpty(systemPrompt)) messages.Add(new ChatMessage(ChatRole.System, systemPrompt));
        messages.AddRange(candidates.Skip(first).Select(ToChatMessage));
        return new ChatWindow(messages, tokens, Omitted: first);
    }

    private static ChatMessage ToChatMessage(Message m) => m.Role == Roles.User
        ? new ChatMessage(ChatRole.User, m.Content) { AuthorName = m.AuthorName }
        : new ChatMessage(ChatRole.Assistant, m.Content);

    // A finished message never changes, and the grain hands the same instance to every later
    // reply: each is counted once, not once per reply (counting a long history on every reply
    // start, under the tokenizer's cache lock, was a bottleneck with many conversations).
    private static readonly ConditionalWeakTable<Message, object> Costs = new();

    // A reply that says what it cost is not tokenized again: the model counted its own tokens.
    private static int CostOf(Message m) => (int)Costs.GetValue(m, static m => TokensPerMessage + m switch
    {
        { Role: Roles.User } => TokenCounter.Count(m.Content) + TokenCounter.Count(AuthorLabelChatClient.Label(m.AuthorName)),
        { Usage.CompletionTokens: > 0 and var completion } => completion,
        _ => TokenCounter.Count(m.Content),
    });
}

/// <summary>The messages to send, their o200k token count, and how many older messages were left out.</summary>
public sealed record ChatWindow(IReadOnlyList<ChatMessage> Messages, int Tokens, int Omitted);
