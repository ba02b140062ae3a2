using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>One signed-in person using the HTTP API, as a client outside the project would.</summary>
public sealed class ApiUser(HttpClient http) : IDisposable
{
    public HttpClient Http { get; } = http;
    public string UserId { get; private set; } = "";
    public string Name { get; private set; } = "";
    public string Token { get; private set; } = "";

    public async Task SignInAsync(string name)
    {
        var response = await Http.PostAsJsonAsync("/api/auth/guest", new { name });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Token = body.GetProperty("token").GetString()!;
        UserId = body.GetProperty("userId").GetString()!;
        Name = body.GetProperty("name").GetString()!;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public async Task<string> CreateConversationAsync(string? title = "Test")
    {
        var response = await Http.PostAsJsonAsync("/api/conversations", new { title });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public async Task<JsonElement> SnapshotAsync(string conversationId)
    {
        var response = await Http.GetAsync($"/api/conversations/{conversationId}");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<long> LastEventIdAsync(string conversationId) => (await SnapshotAsync(conversationId)).GetProperty("lastEventId").GetInt64();

    /// <summary>Invites <paramref name="other"/> and has them join.</summary>
    public async Task ShareWithAsync(string conversationId, ApiUser other)
    {
        var invite = await Http.PostAsync($"/api/conversations/{conversationId}/invites", null);
        invite.EnsureSuccessStatusCode();
        var token = (await invite.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("inviteToken").GetString();
        var join = await other.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/members", new { inviteToken = token });
        join.EnsureSuccessStatusCode();
    }

    public Task<EventStreamReader> PostAsync(string conversationId, string content, string? idempotencyKey = null, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/messages")
        {
            Content = JsonContent.Create(new { content }),
        };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId.ToString());
        request.Headers.Accept.ParseAdd("text/event-stream");
        return EventStreamReader.OpenAsync(Http, request);
    }

    /// <summary>Posts with Accept: application/json: 202 and the exchange's ids, the reply streams elsewhere.</summary>
    public async Task<JsonElement> PostAcceptedAsync(string conversationId, string content, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/messages") { Content = JsonContent.Create(new { content }) };
        request.Headers.Accept.ParseAdd("application/json");
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        var response = await Http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public Task<EventStreamReader> WatchAsync(string conversationId, long? lastEventId = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Post, $"/api/conversations/{conversationId}/events");
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId.ToString());
        return EventStreamReader.OpenAsync(Http, request);
    }

    public Task<HttpResponseMessage> CancelAsync(string conversationId, string messageId) =>
        Http.PostAsync($"/api/conversations/{conversationId}/messages/{messageId}/cancel", null);

    public void Dispose() => Http.Dispose();
}
