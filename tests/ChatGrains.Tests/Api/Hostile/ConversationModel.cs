using System.Text.Json;

namespace ChatGrains.Tests.Api.Hostile;

/// <summary>
/// What the accepted requests of a run must have done, and nothing more: the prompts in the order
/// they were posted (a repeated Idempotency-Key posts nothing), the replies cancelled, the
/// conversations created. The run is sequential, so this order is the service's order.
/// </summary>
public sealed class ConversationModel
{
    /// <summary>A prompt the service accepted. Null content: not knowable. Uncertain: its request got a 5xx, so it may or may not be there.</summary>
    public sealed record Prompt(string AuthorId, string? Content, bool Uncertain);

    private readonly Dictionary<string, List<Prompt>> _prompts = [];
    private readonly Dictionary<(string Conversation, string User, string Key), (string Content, string? Ids)> _keys = [];
    private readonly Dictionary<string, string> _latestReply = [];

    public HashSet<string> Cancelled { get; } = [];
    public Dictionary<string, int> Created { get; } = [];
    public List<string> Violations { get; } = [];

    public IReadOnlyList<Prompt> PromptsIn(string conversation) => _prompts.GetValueOrDefault(conversation) ?? [];

    /// <summary>The probe's target, with the latest reply the run has seen in place of its placeholder.</summary>
    public string Resolve(Probe probe) => probe.Intent is CancelsLatestReply c
        ? probe.Target.Replace(Probe.LatestReply, _latestReply.GetValueOrDefault(c.ConversationId, "no-reply-yet"))
        : probe.Target;

    /// <summary>The contract's verdict given what came before: reusing a key with other content is refused (422).</summary>
    public Verdict Predict(Probe probe) =>
        probe.Intent is PostsMessage { Key: { } key } m
        && _keys.TryGetValue((m.ConversationId, m.Author.UserId, key), out var known) && known.Content != m.Content
            ? Verdict.Refused
            : probe.Verdict;

    public void Record(Probe probe, string target, Answer answer)
    {
        var served = answer.Status is >= 200 and < 300;
        if (!served && answer.Status < 500) return;
        switch (probe.Intent)
        {
            case PostsMessage m when m.Key is { } key && _keys.TryGetValue((m.ConversationId, m.Author.UserId, key), out var known):
                // A retry: it must answer the same exchange and post nothing.
                if (served && known.Ids is { } ids && answer.Status == 202 && Ids(answer) != ids)
                    Violations.Add($"A retry with key {key} answered {Ids(answer)}, the first {ids}.");
                if (known.Ids is null && answer.Status == 202) _keys[(m.ConversationId, m.Author.UserId, key)] = known with { Ids = Ids(answer) };
                break;
            case PostsMessage m:
                Prompts(m.ConversationId).Add(new Prompt(m.Author.UserId, m.Content, Uncertain: !served));
                if (!served) break;
                var first = answer.Status == 202 ? Ids(answer) : null;
                if (m.Key is { } newKey) _keys[(m.ConversationId, m.Author.UserId, newKey)] = (m.Content!, first);
                if (first is not null) _latestReply[m.ConversationId] = JsonDocument.Parse(answer.Body).RootElement.GetProperty("assistantMessageId").GetString()!;
                break;
            case CreatesConversation c when served:
                Created[c.Owner.UserId] = Created.GetValueOrDefault(c.Owner.UserId) + 1;
                break;
            case CancelsLatestReply when served:
                Cancelled.Add(target.Split('/')[^2]);
                break;
        }
    }

    private List<Prompt> Prompts(string conversation) => _prompts.TryGetValue(conversation, out var list) ? list : _prompts[conversation] = [];

    private static string Ids(Answer answer)
    {
        var body = JsonDocument.Parse(answer.Body).RootElement;
        return $"{body.GetProperty("userMessageId")}/{body.GetProperty("assistantMessageId")}/{body.GetProperty("eventId")}";
    }
}
