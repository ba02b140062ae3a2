namespace ChatGrains.Tests.Api;

/// <summary>What the presence tests do as a client: watch with presence and typing in view, say "typing", read who is online.</summary>
public static class PresenceRequests
{
    /// <summary>
    /// A watch stream whose reader returns presence and typing too (they stay out of
    /// <see cref="EventStreamReader.Events"/>), over <paramref name="tab"/> if given (see <see cref="TabClient"/>).
    /// </summary>
    public static Task<EventStreamReader> WatchWithPresenceAsync(this ApiUser user, string conversationId, long? lastEventId = null, HttpClient? tab = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/events");
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId.ToString());
        return EventStreamReader.OpenAsync(tab ?? user.Http, request, ephemeral: true);
    }

    /// <summary>
    /// A client of the user's whose streams drop their connection the moment they are disposed, as
    /// a closing tab's do. A default HttpClient instead drains a disposed response for up to 2 s
    /// (its ResponseDrainTimeout) to reuse the connection, and the server sees the watcher leave
    /// only then.
    /// </summary>
    public static HttpClient TabClient(this ApiUser user) => new(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero })
    {
        BaseAddress = user.Http.BaseAddress,
        Timeout = Timeout.InfiniteTimeSpan,
        DefaultRequestHeaders = { Authorization = user.Http.DefaultRequestHeaders.Authorization },
    };

    /// <summary>The POST-initiated stream of a prompt, with presence and typing returned if any came.</summary>
    public static Task<EventStreamReader> PostWithPresenceAsync(this ApiUser user, string conversationId, string content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{conversationId}/messages")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { content }),
        };
        request.Headers.Accept.ParseAdd("text/event-stream");
        return EventStreamReader.OpenAsync(user.Http, request, ephemeral: true);
    }

    public static Task<HttpResponseMessage> TypingAsync(this ApiUser user, string conversationId) =>
        user.Http.PostAsync($"/api/conversations/{conversationId}/typing", null);

    /// <summary>The user ids a <c>presence</c> event lists.</summary>
    public static IReadOnlySet<string> Online(this Received presence) =>
        presence.Data.GetProperty("online").EnumerateArray().Select(u => u.GetProperty("userId").GetString()!).ToHashSet();

    /// <summary>Reads until a <c>presence</c> that lists exactly <paramref name="users"/>.</summary>
    public static Task<Received> ReadPresenceAsync(this EventStreamReader watch, IEnumerable<ApiUser> users, TimeSpan? timeout = null)
    {
        var expected = users.Select(u => u.UserId).ToHashSet();
        return watch.ReadUntilAsync(e => e.Type == "presence" && e.Online().SetEquals(expected), timeout);
    }

    /// <summary>Reads until a <c>typing</c> of <paramref name="user"/>.</summary>
    public static Task<Received> ReadTypingAsync(this EventStreamReader watch, ApiUser user, TimeSpan? timeout = null) =>
        watch.ReadUntilAsync(e => e.Type == "typing" && e.Data.GetProperty("userId").GetString() == user.UserId, timeout);
}
