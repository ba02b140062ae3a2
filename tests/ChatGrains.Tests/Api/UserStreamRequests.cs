using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The read-state and user-stream routes, as a client outside the project calls them.</summary>
public static class UserStreamRequests
{
    /// <summary>Opens the caller's own stream (<c>/api/me/events</c>), resuming after <paramref name="lastEventId"/> when given.</summary>
    public static Task<EventStreamReader> WatchMeAsync(this ApiUser user, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/me/events");
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId.ToString());
        return EventStreamReader.OpenAsync(user.Http, request);
    }

    /// <summary>What a native EventSource sends: GET with the token and the resume point in the query.</summary>
    public static Task<EventStreamReader> WatchMeWithEventSourceAsync(this ApiUser user, long lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/me/events?access_token={user.Token}&lastEventId={lastEventId}");
        // A client with no Authorization header (the user's own sends one with every request);
        // it lives as long as the stream it opens.
        var headerless = new HttpClient { BaseAddress = user.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        return EventStreamReader.OpenAsync(headerless, request);
    }

    public static async Task<JsonElement[]> ListAsync(this ApiUser user) =>
        (await user.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!;

    public static async Task<JsonElement> ItemAsync(this ApiUser user, string conversationId) =>
        (await user.ListAsync()).Single(i => i.GetProperty("id").GetString() == conversationId);

    public static Task<HttpResponseMessage> MarkReadAsync(this ApiUser user, string conversationId, long lastEventId) =>
        user.Http.PostAsync($"/api/conversations/{conversationId}/read",
            new StringContent($$"""{"lastEventId": {{lastEventId}}}""", Encoding.UTF8, "application/json"));
}
