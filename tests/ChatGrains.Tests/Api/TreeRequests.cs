using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The tree routes, as a client calls them: posting under a parent, regenerate, head and fork.</summary>
public static class TreeRequests
{
    /// <summary>A body with <c>parentId</c> set to <paramref name="parentId"/> (JSON null when it is null).</summary>
    public static StringContent UnderParent(string content, string? parentId) =>
        new(JsonSerializer.Serialize(new { content, parentId }), Encoding.UTF8, "application/json");

    /// <summary>Posts a prompt under <paramref name="parentId"/> (null: a new first prompt) and opens its stream.</summary>
    public static Task<EventStreamReader> PostUnderAsync(this ApiUser user, string conversationId, string content, string? parentId, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/messages") { Content = UnderParent(content, parentId) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        request.Headers.Accept.ParseAdd("text/event-stream");
        return EventStreamReader.OpenAsync(user.Http, request);
    }

    /// <summary>Posts under <paramref name="parentId"/> with Accept: application/json; the 202's body.</summary>
    public static async Task<JsonElement> PostUnderAcceptedAsync(this ApiUser user, string conversationId, string content, string? parentId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/messages") { Content = UnderParent(content, parentId) };
        request.Headers.Accept.ParseAdd("application/json");
        var response = await user.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static HttpRequestMessage RegenerateRequest(string conversationId, string messageId, string accept, string? idempotencyKey = null, long? lastEventId = null)
    {
        var request = Problems.Request(HttpMethod.Post, $"/api/conversations/{conversationId}/messages/{messageId}/regenerate", accept);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId.ToString());
        return request;
    }

    /// <summary>Regenerates a reply and opens the stream of the new one.</summary>
    public static Task<EventStreamReader> RegenerateAsync(this ApiUser user, string conversationId, string messageId, string? idempotencyKey = null, long? lastEventId = null) =>
        EventStreamReader.OpenAsync(user.Http, RegenerateRequest(conversationId, messageId, "text/event-stream", idempotencyKey, lastEventId));

    /// <summary>Regenerates with Accept: application/json; the 202's body.</summary>
    public static async Task<JsonElement> RegenerateAcceptedAsync(this ApiUser user, string conversationId, string messageId, string? idempotencyKey = null)
    {
        var response = await user.Http.SendAsync(RegenerateRequest(conversationId, messageId, "application/json", idempotencyKey));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static Task<HttpResponseMessage> SetHeadAsync(this ApiUser user, string conversationId, string messageId) =>
        user.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/head", new { messageId });

    public static Task<HttpResponseMessage> ForkAsync(this ApiUser user, string conversationId, string messageId) =>
        user.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/fork", new { messageId });

    /// <summary>Waits (on a watch stream) until every reply of the conversation is final.</summary>
    public static async Task<JsonElement> SettledSnapshotAsync(this ApiUser user, string conversationId)
    {
        var snapshot = await user.SnapshotAsync(conversationId);
        var open = snapshot.GetProperty("messages").EnumerateArray()
            .Where(m => m.GetProperty("status").GetString() is "queued" or "streaming")
            .Select(m => m.GetProperty("id").GetString()!).ToHashSet();
        if (open.Count == 0) return snapshot;
        await using var watch = await user.WatchAsync(conversationId, snapshot.GetProperty("lastEventId").GetInt64());
        while (open.Count > 0)
        {
            var e = await watch.ReadUntilAsync(e => e.Type == "message.completed", TimeSpan.FromSeconds(60));
            open.Remove(e.MessageId!);
        }
        return await user.SnapshotAsync(conversationId);
    }

    public static JsonElement Message(this JsonElement snapshot, string messageId) =>
        snapshot.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("id").GetString() == messageId);

    public static string? ParentId(this JsonElement message) => message.GetProperty("parentId").GetString();

    public static string Id(this JsonElement message, string name = "id") => message.GetProperty(name).GetString()!;
}
