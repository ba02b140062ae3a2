using System.Net.Http.Json;
using System.Text.Json;
using ChatGrains.Tests.Api;

namespace ChatGrains.Tests.LongConversations;

/// <summary>The paging routes as a client calls them, and a client's way of applying events to what it holds.</summary>
public static class PagingRequests
{
    public static Task<HttpResponseMessage> GetSnapshotAsync(this ApiUser user, string conversationId, string query) =>
        user.Http.GetAsync($"/api/conversations/{conversationId}{query}");

    public static Task<HttpResponseMessage> GetMessagesAsync(this ApiUser user, string conversationId, string query) =>
        user.Http.GetAsync($"/api/conversations/{conversationId}/messages{query}");

    /// <summary>A 200's JSON body (a snapshot or a page).</summary>
    public static async Task<JsonElement> OkJsonAsync(this Task<HttpResponseMessage> request)
    {
        var response = await request;
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static List<string> MessageIds(this JsonElement page) =>
        [.. page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];

    public static bool HasMore(this JsonElement page) => page.GetProperty("hasMore").GetBoolean();

    /// <summary>The messages of a snapshot or page as (id, status, content), in order.</summary>
    public static List<(string Id, string Status, string Content)> Held(this JsonElement page) =>
        [.. page.GetProperty("messages").EnumerateArray().Select(m =>
            (m.GetProperty("id").GetString()!, m.GetProperty("status").GetString()!, m.GetProperty("content").GetString()!))];

    /// <summary>What a client holds after applying <paramref name="events"/> to <paramref name="held"/>, as the contract says.</summary>
    public static List<(string Id, string Status, string Content)> Apply(List<(string Id, string Status, string Content)> held, IEnumerable<Received> events)
    {
        var messages = held.ToList();
        int At(string id) => messages.FindIndex(m => m.Id == id);
        foreach (var e in events)
        {
            switch (e.Type)
            {
                case "message.created":
                    var m = e.Data.GetProperty("message");
                    messages.Add((m.GetProperty("id").GetString()!, m.GetProperty("status").GetString()!, m.GetProperty("content").GetString()!));
                    break;
                case "message.delta" when At(e.MessageId!) is var i and >= 0:
                    messages[i] = (messages[i].Id, MessageStatus.Streaming, messages[i].Content + e.Delta);
                    break;
                case "message.completed" when At(e.MessageId!) is var i and >= 0:
                    messages[i] = (messages[i].Id, e.Status!, e.Data.GetProperty("content").GetString()!);
                    break;
            }
        }
        return messages;
    }
}
