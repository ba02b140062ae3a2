using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The token-budget requests, as a client outside the project makes them.</summary>
public static class BudgetRequests
{
    /// <summary><c>GET /api/me/usage</c>.</summary>
    public static async Task<JsonElement> UsageAsync(this ApiUser user)
    {
        var response = await user.Http.GetAsync("/api/me/usage");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Posts a prompt and answers the raw response, whatever it is (the caller disposes it).</summary>
    public static Task<HttpResponseMessage> PostRawAsync(this ApiUser user, string conversationId, string body, string accept, string? idempotencyKey = null)
    {
        var request = Problems.Request(HttpMethod.Post, $"/api/conversations/{conversationId}/messages", accept,
            new StringContent(body, Encoding.UTF8, "application/json"));
        if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        return user.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Posts a prompt and reads its exchange to the end; returns the reply's usage, as its message.completed carried it.</summary>
    public static async Task<(int Prompt, int Completion)> ExchangeAsync(this ApiUser user, string conversationId, string content, string? idempotencyKey = null)
    {
        await using var stream = await user.PostAsync(conversationId, content, idempotencyKey);
        var completed = (await stream.ReadToEndAsync()).Single(e => e.Type == "message.completed");
        return Tokens(completed.Data.GetProperty("usage"));
    }

    public static (int Prompt, int Completion) Tokens(JsonElement usage) =>
        (usage.GetProperty("promptTokens").GetInt32(), usage.GetProperty("completionTokens").GetInt32());

    /// <summary>The next UTC midnight after now.</summary>
    public static DateTimeOffset NextMidnight() => new(DateTime.UtcNow.Date.AddDays(1), TimeSpan.Zero);
}
