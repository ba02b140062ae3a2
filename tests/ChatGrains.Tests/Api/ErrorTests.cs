using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ChatGrains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Tests.Api;

/// <summary>
/// Every error row of the contract: the right status, problem+json, and nothing changed, under
/// every <c>Accept</c> a real client sends (SSE clients send <c>text/event-stream</c> on every
/// request; EventSource and curl send nothing or <c>*/*</c>).
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class ErrorTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    private static readonly (string Name, string Body, string? Header, string? Value, int Status)[] BadPostRows =
    [
        ("malformed JSON", "{\"content\": ", null, null, 400),
        ("not an object", "[1,2]", null, null, 400),
        ("missing content", "{}", null, null, 400),
        ("non-string content", "{\"content\": 42}", null, null, 400),
        ("null content", "{\"content\": null}", null, null, 400),
        ("empty content", "{\"content\": \"\"}", null, null, 400),
        ("whitespace content", "{\"content\": \" \\n\\t \"}", null, null, 400),
        ("half a surrogate pair", "{\"content\": \"\\ud800\"}", null, null, 400),
        ("non-numeric Last-Event-ID", "{\"content\": \"hi\"}", "Last-Event-ID", "abc", 400),
        ("negative Last-Event-ID", "{\"content\": \"hi\"}", "Last-Event-ID", "-3", 400),
        ("Idempotency-Key over 128", "{\"content\": \"hi\"}", "Idempotency-Key", new string('k', 129), 400),
        ("content over 32 KiB", JsonSerializer.Serialize(new { content = new string('x', 32 * 1024 + 1) }), null, null, 413),
        ("content over 32 KiB in UTF-8", JsonSerializer.Serialize(new { content = new string('é', 16 * 1024 + 1) }), null, null, 413),
        ("a body of megabytes", "{\"content\": \"" + new string('x', 3_000_000) + "\"}", null, null, 413),
    ];

    public static TheoryData<string, string, string?, string?, int, string> BadPosts()
    {
        var data = new TheoryData<string, string, string?, string?, int, string>();
        foreach (var (name, body, header, value, status) in BadPostRows)
            foreach (var accept in Problems.Accepts) data.Add(name, body, header, value, status, accept);
        return data;
    }

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(BadPosts))]
    public async Task A_bad_post_is_refused_with_problem_json_and_changes_nothing(string name, string body, string? header, string? value, int status, string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var before = (await ada.SnapshotAsync(id)).GetRawText();

        var request = Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, new StringContent(body, Encoding.UTF8, "application/json"));
        if (header is not null) request.Headers.TryAddWithoutValidation(header, value);
        // As a well-behaved client does for large uploads: the server can refuse before the body is sent.
        request.Headers.ExpectContinue = true;
        var response = await ada.Http.SendAsync(request);

        await Problems.AssertAsync(response, status, name);
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Invalid_utf8_in_any_json_body_is_a_400_and_changes_nothing(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        var before = (await ada.SnapshotAsync(id)).GetRawText();
        var conversations = (await ada.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length;

        // 0xFF and 0xFE never occur in UTF-8: what `printf '{"content":"\xff\xfe"}'` sends.
        static HttpContent Invalid(string field) => new ByteArrayContent([.. Encoding.ASCII.GetBytes($"{{\"{field}\":\""), 0xFF, 0xFE, .. "\"}"u8])
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
        };
        using var anonymous = _server.CreateSocketClient();
        await Problems.AssertAsync(await anonymous.SendAsync(Problems.Request(HttpMethod.Post, "/api/auth/guest", accept, Invalid("name"))), 400, "sign-in");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, "/api/conversations", accept, Invalid("title"))), 400, "create");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, Invalid("content"))), 400, "post");
        await Problems.AssertAsync(await bob.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/members", accept, Invalid("inviteToken"))), 400, "join");

        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
        Assert.Equal(conversations, (await ada.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length);
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task A_body_whose_chunked_framing_is_broken_is_a_400(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var before = (await ada.SnapshotAsync(id)).GetRawText();

        // No HttpClient sends this: "zz" is not a chunk size.
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = socket.GetStream();
        var acceptLine = accept == "none" ? "" : $"Accept: {accept}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/conversations/{id}/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ada.Token}\r\n{acceptLine}" +
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));
        var answer = Encoding.UTF8.GetString(await ReadToCloseAsync(stream));

        var (head, body) = (answer[..answer.IndexOf("\r\n\r\n")], answer[(answer.IndexOf("\r\n\r\n") + 4)..]);
        Assert.StartsWith("HTTP/1.1 400 ", head);
        Assert.Contains("Content-Type: application/problem+json", head);
        var json = head.Contains("Transfer-Encoding: chunked") ? body[(body.IndexOf("\r\n") + 2)..body.LastIndexOf("\r\n0\r\n")] : body;
        Assert.Equal(400, JsonDocument.Parse(json).RootElement.GetProperty("status").GetInt32());
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
    }

    private static async Task<byte[]> ReadToCloseAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var all = new MemoryStream();
        await stream.CopyToAsync(all, timeout.Token);
        return all.ToArray();
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task A_non_numeric_resume_point_on_the_events_route_is_a_400(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Get, $"/api/conversations/{id}/events?lastEventId=x1", accept)), 400, "query");
        var request = Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/events", accept);
        request.Headers.TryAddWithoutValidation("Last-Event-ID", "1.5");
        await Problems.AssertAsync(await ada.Http.SendAsync(request), 400, "header");
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Reusing_an_idempotency_key_with_other_content_is_a_422_and_posts_nothing(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await ada.PostAcceptedAsync(id, "original", "key-1");
        var before = (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength();

        var request = Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, JsonContent.Create(new { content = "different" }));
        request.Headers.Add("Idempotency-Key", "key-1");
        await Problems.AssertAsync(await ada.Http.SendAsync(request), 422, "key reuse");

        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task The_same_idempotency_key_answers_202_with_the_same_ids_and_creates_nothing()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var first = await ada.PostAcceptedAsync(id, "once", "key-2");
        var second = await ada.PostAcceptedAsync(id, "once", "key-2");
        Assert.Equal(first.GetRawText(), second.GetRawText());
        Assert.Equal(1, first.GetProperty("eventId").GetInt64());
        Assert.Equal(2, (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength());
    }

    /// <summary>Every route that needs an identity, with a body where it takes one.</summary>
    public static readonly (string Method, string Path, string? Body)[] ProtectedRoutes =
    [
        ("GET", "/api/conversations", null),
        ("POST", "/api/conversations", "{\"title\": \"t\"}"),
        ("GET", "/api/conversations/x", null),
        ("PATCH", "/api/conversations/x", "{\"title\": \"t\"}"),
        ("DELETE", "/api/conversations/x", null),
        ("POST", "/api/conversations/x/invites", null),
        ("GET", "/api/conversations/x/invites", null),
        ("DELETE", "/api/conversations/x/invites/t", null),
        ("DELETE", "/api/conversations/x/members/u", null),
        ("POST", "/api/conversations/x/members", "{\"inviteToken\": \"t\"}"),
        ("POST", "/api/conversations/x/messages", "{\"content\": \"hi\"}"),
        ("GET", "/api/conversations/x/messages", null),
        ("POST", "/api/conversations/x/messages/m/cancel", null),
        ("POST", "/api/conversations/x/messages/m/regenerate", null),
        ("POST", "/api/conversations/x/head", "{\"messageId\": \"m\"}"),
        ("POST", "/api/conversations/x/fork", "{\"messageId\": \"m\"}"),
        ("GET", "/api/conversations/x/events", null),
        ("POST", "/api/conversations/x/events", null),
    ];

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Missing_or_invalid_identity_is_a_401_on_every_api_route(string accept)
    {
        using var anonymous = _server.CreateSocketClient();
        foreach (var (method, path, body) in ProtectedRoutes)
        {
            HttpContent? Body() => body is null ? null : new StringContent(body, Encoding.UTF8, "application/json");
            await Problems.AssertAsync(await anonymous.SendAsync(Problems.Request(new HttpMethod(method), path, accept, Body())), 401, $"{method} {path}");
            var forged = Problems.Request(new HttpMethod(method), path, accept, Body());
            forged.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl");
            await Problems.AssertAsync(await anonymous.SendAsync(forged), 401, $"forged {method} {path}");
            // What a native EventSource can send instead of a header.
            if (path.EndsWith("/events"))
                await Problems.AssertAsync(await anonymous.SendAsync(Problems.Request(new HttpMethod(method), path + "?access_token=forged", accept)), 401, $"query token {method} {path}");
        }
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Every_route_of_a_conversation_answers_404_to_a_non_member_and_changes_nothing(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        var posted = await ada.PostAcceptedAsync(id, "private");
        var replyId = posted.GetProperty("assistantMessageId").GetString();
        var before = await ada.LastEventIdAsync(id);

        var routes = new[]
        {
            Problems.Request(HttpMethod.Get, $"/api/conversations/{id}", accept),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/invites", accept),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, JsonContent.Create(new { content = "let me in" })),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages/{replyId}/cancel", accept),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/events", accept),
            Problems.Request(HttpMethod.Get, $"/api/conversations/{id}/events?lastEventId=0", accept),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/members", accept, JsonContent.Create(new { inviteToken = "guess" })),
        };
        foreach (var request in routes)
        {
            var response = await eve.Http.SendAsync(request);
            await Problems.AssertAsync(response, 404, $"{request.Method} {request.RequestUri}");
        }
        // An unknown conversation looks exactly the same.
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Get, "/api/conversations/does-not-exist", accept)), 404, "unknown");
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Post, "/api/conversations/does-not-exist/events", accept)), 404, "unknown watch");
        Assert.DoesNotContain(await eve.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations") ?? [], c => c.GetProperty("id").GetString() == id);
        Assert.True(await ada.LastEventIdAsync(id) >= before);
        Assert.Single((await ada.SnapshotAsync(id)).GetProperty("members").EnumerateArray());
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Unknown_routes_and_methods_are_problems_too(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Get, "/api/no-such-route", accept)), 404, "unknown route");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Get, "/api/conversations/x/messages/m/cancel", accept)), 405, "GET on a POST route");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Delete, "/api/conversations", accept)), 405, "DELETE");
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Cancelling_a_finished_reply_or_a_prompt_is_a_409_and_an_unknown_message_a_404(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var post = await ada.PostAsync(id, "finish")) await post.ReadToEndAsync();
        var messages = (await ada.SnapshotAsync(id)).GetProperty("messages");
        var prompt = messages[0].GetProperty("id").GetString()!;
        var reply = messages[1].GetProperty("id").GetString()!;
        var before = await ada.LastEventIdAsync(id);

        Task<HttpResponseMessage> Cancel(string messageId) =>
            ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages/{messageId}/cancel", accept));
        await Problems.AssertAsync(await Cancel(reply), 409, "finished reply");
        await Problems.AssertAsync(await Cancel(prompt), 409, "prompt");
        await Problems.AssertAsync(await Cancel("nope"), 404, "unknown message");
        Assert.Equal(before, await ada.LastEventIdAsync(id));
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task An_unknown_invite_token_is_a_404(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        Task<HttpResponseMessage> Join(object body) =>
            bob.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/members", accept, JsonContent.Create(body)));
        await Problems.AssertAsync(await Join(new { inviteToken = "not-a-token" }), 404, "invite");
        await Problems.AssertAsync(await Join(new { inviteToken = 7 }), 400, "invite type");
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Bad_sign_in_and_bad_create_bodies_are_400s_and_oversized_ones_413s(string accept)
    {
        using var client = _server.CreateSocketClient();
        Task<HttpResponseMessage> SignIn(string body) =>
            client.SendAsync(Problems.Request(HttpMethod.Post, "/api/auth/guest", accept, new StringContent(body, Encoding.UTF8, "application/json")));
        await Problems.AssertAsync(await SignIn("{\"name\": \"  \"}"), 400, "blank name");
        await Problems.AssertAsync(await SignIn("nope"), 400, "malformed");
        await Problems.AssertAsync(await SignIn(JsonSerializer.Serialize(new { name = new string('n', 5000) })), 413, "sign-in body over 4 KiB");
        using var ada = await _server.SignInAsync("Ada");
        Task<HttpResponseMessage> Create(string body) =>
            ada.Http.SendAsync(Problems.Request(HttpMethod.Post, "/api/conversations", accept, new StringContent(body, Encoding.UTF8, "application/json")));
        await Problems.AssertAsync(await Create("{\"title\": 5}"), 400, "title type");
        await Problems.AssertAsync(await Create(JsonSerializer.Serialize(new { title = new string('t', 9000) })), 413, "create body over 8 KiB");
    }
}

public sealed class RateLimitedServerFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["RateLimits:SignInsPerMinute"] = "3",
        ["RateLimits:PromptsPerMinute"] = "2",
    };
}

[Trait("Category", TestCategory.Api)]
public sealed class RateLimitTests(RateLimitedServerFixture fixture) : IClassFixture<RateLimitedServerFixture>
{
    [Fact]
    public async Task Over_the_limit_sign_ins_and_prompts_get_429_problem_json()
    {
        var server = fixture.Server;
        using var ada = await server.SignInAsync("Ada");
        await server.SignInAsync("Bob");
        await server.SignInAsync("Cy");
        using var client = server.CreateSocketClient();
        var response = await client.PostAsJsonAsync("/api/auth/guest", new { name = "Dee" });
        await Problems.AssertAsync(response, 429, "fourth sign-in");
        Assert.True(response.Headers.RetryAfter is not null, "a 429 says when to retry");
        foreach (var accept in Problems.Accepts)
        {
            var again = await client.SendAsync(Problems.Request(HttpMethod.Post, "/api/auth/guest", accept, JsonContent.Create(new { name = "Dee" })));
            await Problems.AssertAsync(again, 429, $"sign-in with Accept {accept}");
            Assert.True(again.Headers.RetryAfter is not null, "a 429 says when to retry");
        }

        var id = await ada.CreateConversationAsync();
        await ada.PostAcceptedAsync(id, "one");
        await ada.PostAcceptedAsync(id, "two");
        var before = (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength();
        var third = await ada.Http.PostAsJsonAsync($"/api/conversations/{id}/messages", new { content = "three" });
        await Problems.AssertAsync(third, 429, "third prompt");
        foreach (var accept in Problems.Accepts)
        {
            var again = await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, JsonContent.Create(new { content = "three" })));
            await Problems.AssertAsync(again, 429, $"prompt with Accept {accept}");
        }
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength());
    }
}

public sealed class NinetyPerMinuteFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["RateLimits:SignInsPerMinute"] = "90" };
}

/// <summary>A per-minute limit means that many a minute: a burst of all of them, refilled at that rate.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class PerMinuteRateTests(NinetyPerMinuteFixture fixture) : IClassFixture<NinetyPerMinuteFixture>
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(60)]
    [InlineData(61)]
    [InlineData(90)]
    [InlineData(119)]
    [InlineData(120)]
    [InlineData(100_000)]
    public void Any_per_minute_setting_is_a_burst_of_that_many_refilled_at_that_many_a_minute(int perMinute)
    {
        var bucket = ChatGrains.Api.RateLimits.Bucket(perMinute);

        Assert.Equal(perMinute, bucket.TokenLimit);
        var perMinuteRefilled = bucket.TokensPerPeriod * (TimeSpan.FromMinutes(1) / bucket.ReplenishmentPeriod);
        Assert.InRange(perMinuteRefilled, perMinute, perMinute * (1 + 1e-6));
    }

    [Fact]
    public async Task Ninety_a_minute_allows_a_burst_of_ninety_then_refills_one_and_a_half_a_second()
    {
        using var client = fixture.Server.CreateSocketClient();
        async Task<HttpResponseMessage> SignIn() => await client.PostAsJsonAsync("/api/auth/guest", new { name = "Ada" });

        var burst = Stopwatch.StartNew();
        HttpResponseMessage refused;
        var granted = 0;
        while ((refused = await SignIn()).StatusCode == HttpStatusCode.OK) granted++;
        await Problems.AssertAsync(refused, 429, "past the burst");
        // Ninety at once, and the little that refilled while they were being sent.
        Assert.InRange(granted, 90, 90 + 1 + (int)(1.5 * burst.Elapsed.TotalSeconds));

        // Then a steady 1.5 a second (the old refill, one a second, capped any setting at 60).
        var window = Stopwatch.StartNew();
        var refilled = 0;
        while (window.Elapsed < TimeSpan.FromSeconds(6))
        {
            if ((await SignIn()).StatusCode == HttpStatusCode.OK) refilled++;
            else await Task.Delay(50);
        }
        // The limiter refills on a timer every 2/3 s: the window sees 9 or 10 refills, or one
        // fewer when a tick falls late past its end on a busy machine. One a second would be 6.
        var expected = 1.5 * window.Elapsed.TotalSeconds;
        Assert.InRange(refilled, expected - 2.5, expected + 1);
    }
}

/// <summary>
/// A grain call that timed out, as while a silo dies: every conversation route answers 503
/// problem+json with Retry-After through the service's own pipeline, whatever the Accept.
/// </summary>
public sealed class TimedOutGrainCallsFixture : ApiServerFixture
{
    protected override Action<IServiceCollection> ConfigureServices => services => services.AddSingleton<IOutgoingGrainCallFilter, TimingOut>();

    /// <summary>Fails every call to a conversation's or a user's grain as Orleans fails a call whose response never came.</summary>
    private sealed class TimingOut : IOutgoingGrainCallFilter
    {
        public Task Invoke(IOutgoingGrainCallContext call) =>
            call.InterfaceMethod.DeclaringType is { } type && (type == typeof(IConversationGrain) || type == typeof(IUserGrain) || type == typeof(IEventLog))
                ? throw new TimeoutException($"Response did not arrive on time in 00:00:10 for message: {call.InterfaceName}.{call.MethodName}")
                : call.Invoke();
    }
}

[Trait("Category", TestCategory.Api)]
public sealed class ClusterTroubleTests(TimedOutGrainCallsFixture fixture) : IClassFixture<TimedOutGrainCallsFixture>
{
    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Every_conversation_route_answers_503_with_retry_after_when_grain_calls_time_out(string accept)
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        await Problems.AssertEveryConversationRouteRetriesLaterAsync(ada, accept);
    }
}

/// <summary>
/// The database down under a real silo: the store fails as a driver does (a <see cref="DbException"/>),
/// the grains turn that into <see cref="ConversationErrorKind.StoreUnavailable"/>, and it crosses
/// the wire to the API host, which answers 503 problem+json with Retry-After, whatever the Accept.
/// </summary>
public sealed class StoreDownFixture : ApiServerFixture
{
    protected override Action<IServiceCollection> ConfigureServices => services =>
        services.AddSingleton<IConversationStore>(sp => new WireSafeStore(new DownStore(), sp.GetRequiredService<ILogger<WireSafeStore>>()));

    private sealed class DatabaseDown() : DbException("Failed to connect to 127.0.0.1:5432");

    private sealed class DownStore : IConversationStore
    {
        public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task<StoredConversation?> LoadAsync(string conversationId, LoadWindow? window = null, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<StoredMessage?> ReadMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<IReadOnlyList<StoredMessage>> ReadMessagesBeforeAsync(string conversationId, long beforeEventId, int max, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<IReadOnlyList<StoredMessage>> ReadPathAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<IReadOnlyList<StoredMessage>> ReadChildrenAsync(string conversationId, string parentId, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<IdempotencyRecord?> ReadKeyAsync(string conversationId, string userId, string key, DateTimeOffset since, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        public Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken = default) => throw new DatabaseDown();
        // Read once as the silo starts, while the database was still up.
        public Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default) => Task.FromResult(new StoreDurability(true, "synchronous=FULL"));
    }
}

[Trait("Category", TestCategory.Api)]
public sealed class StoreDownTests(StoreDownFixture fixture) : IClassFixture<StoreDownFixture>
{
    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Every_conversation_route_answers_503_with_retry_after_while_the_store_is_down(string accept)
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        await Problems.AssertEveryConversationRouteRetriesLaterAsync(ada, accept);
    }
}

public static class Problems
{
    /// <summary>
    /// The Accept headers real clients send: none (EventSource, many SDKs), curl's and fetch's
    /// <c>*/*</c>, every SSE client's <c>text/event-stream</c>, JSON, and a browser's navigation.
    /// </summary>
    public static readonly string[] Accepts = ["none", "*/*", "text/event-stream", "application/json", "text/html;q=0.9, image/webp"];

    public static HttpRequestMessage Request(HttpMethod method, string path, string accept, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (accept != "none") request.Headers.TryAddWithoutValidation("Accept", accept);
        return request;
    }

    /// <summary>Every route of a conversation answers 503 problem+json with Retry-After: 2 (the cluster or its store is away).</summary>
    public static async Task AssertEveryConversationRouteRetriesLaterAsync(ApiUser user, string accept)
    {
        foreach (var (method, path, body) in ErrorTests.ProtectedRoutes)
        {
            var response = await user.Http.SendAsync(Request(new HttpMethod(method), path, accept,
                body is null ? null : new StringContent(body, Encoding.UTF8, "application/json")));
            await AssertAsync(response, 503, $"{method} {path}");
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        }
    }

    public static async Task AssertAsync(HttpResponseMessage response, int status, string because)
    {
        var accept = response.RequestMessage?.Headers.Accept.ToString() is { Length: > 0 } a ? a : "none";
        because = $"{because} (Accept: {accept})";
        Assert.True((int)response.StatusCode == status, $"{because}: expected {status}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{because}: Content-Type {response.Content.Headers.ContentType}");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), because);
    }
}
