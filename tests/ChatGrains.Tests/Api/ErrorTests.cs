using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>Every error row of the contract: the right status, problem+json, and nothing changed.</summary>
public sealed class ErrorTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    public static TheoryData<string, string, string?, string?, int> BadPosts => new()
    {
        // name, body, header name, header value, expected status
        { "malformed JSON", "{\"content\": ", null, null, 400 },
        { "not an object", "[1,2]", null, null, 400 },
        { "missing content", "{}", null, null, 400 },
        { "non-string content", "{\"content\": 42}", null, null, 400 },
        { "null content", "{\"content\": null}", null, null, 400 },
        { "empty content", "{\"content\": \"\"}", null, null, 400 },
        { "whitespace content", "{\"content\": \" \\n\\t \"}", null, null, 400 },
        { "non-numeric Last-Event-ID", "{\"content\": \"hi\"}", "Last-Event-ID", "abc", 400 },
        { "negative Last-Event-ID", "{\"content\": \"hi\"}", "Last-Event-ID", "-3", 400 },
        { "Idempotency-Key over 128", "{\"content\": \"hi\"}", "Idempotency-Key", new string('k', 129), 400 },
        { "content over 32 KiB", JsonSerializer.Serialize(new { content = new string('x', 32 * 1024 + 1) }), null, null, 413 },
        { "content over 32 KiB in UTF-8", JsonSerializer.Serialize(new { content = new string('é', 16 * 1024 + 1) }), null, null, 413 },
        { "a body of megabytes", "{\"content\": \"" + new string('x', 3_000_000) + "\"}", null, null, 413 },
    };

    [Theory]
    [MemberData(nameof(BadPosts))]
    public async Task A_bad_post_is_refused_with_problem_json_and_changes_nothing(string name, string body, string? header, string? value, int status)
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var before = (await ada.SnapshotAsync(id)).GetRawText();

        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (header is not null) request.Headers.TryAddWithoutValidation(header, value);
        // As a well-behaved client does for large uploads: the server can refuse before the body is sent.
        request.Headers.ExpectContinue = true;
        var response = await ada.Http.SendAsync(request);

        await Problems.AssertAsync(response, status, name);
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
    }

    [Fact]
    public async Task A_non_numeric_resume_point_on_the_events_route_is_a_400()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await Problems.AssertAsync(await ada.Http.GetAsync($"/api/conversations/{id}/events?lastEventId=x1"), 400, "query");
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/events");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", "1.5");
        await Problems.AssertAsync(await ada.Http.SendAsync(request), 400, "header");
    }

    [Fact]
    public async Task Reusing_an_idempotency_key_with_other_content_is_a_422_and_posts_nothing()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await ada.PostAcceptedAsync(id, "original", "key-1");
        var before = (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength();

        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/messages") { Content = JsonContent.Create(new { content = "different" }) };
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

    [Fact]
    public async Task Missing_or_invalid_identity_is_a_401_on_every_api_route()
    {
        using var anonymous = _server.CreateSocketClient();
        foreach (var (method, path) in new[] { ("GET", "/api/conversations"), ("POST", "/api/conversations"), ("GET", "/api/conversations/x"), ("POST", "/api/conversations/x/messages"), ("POST", "/api/conversations/x/events") })
        {
            await Problems.AssertAsync(await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)), 401, path);
            var forged = new HttpRequestMessage(new HttpMethod(method), path);
            forged.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl");
            await Problems.AssertAsync(await anonymous.SendAsync(forged), 401, "forged " + path);
        }
    }

    [Fact]
    public async Task Every_route_of_a_conversation_answers_404_to_a_non_member_and_changes_nothing()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        var posted = await ada.PostAcceptedAsync(id, "private");
        var replyId = posted.GetProperty("assistantMessageId").GetString();
        var before = await ada.LastEventIdAsync(id);

        var routes = new[]
        {
            new HttpRequestMessage(HttpMethod.Get, $"/api/conversations/{id}"),
            new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/invites"),
            new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/messages") { Content = JsonContent.Create(new { content = "let me in" }) },
            new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/messages/{replyId}/cancel"),
            new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/events"),
            new HttpRequestMessage(HttpMethod.Get, $"/api/conversations/{id}/events?lastEventId=0"),
            new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/members") { Content = JsonContent.Create(new { inviteToken = "guess" }) },
        };
        foreach (var request in routes)
        {
            var response = await eve.Http.SendAsync(request);
            await Problems.AssertAsync(response, 404, $"{request.Method} {request.RequestUri}");
        }
        // An unknown conversation looks exactly the same.
        await Problems.AssertAsync(await eve.Http.GetAsync("/api/conversations/does-not-exist"), 404, "unknown");
        Assert.DoesNotContain(await eve.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations") ?? [], c => c.GetProperty("id").GetString() == id);
        Assert.True(await ada.LastEventIdAsync(id) >= before);
        Assert.Single((await ada.SnapshotAsync(id)).GetProperty("members").EnumerateArray());
    }

    [Fact]
    public async Task Cancelling_a_finished_reply_or_a_prompt_is_a_409_and_an_unknown_message_a_404()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var post = await ada.PostAsync(id, "finish")) await post.ReadToEndAsync();
        var messages = (await ada.SnapshotAsync(id)).GetProperty("messages");
        var prompt = messages[0].GetProperty("id").GetString()!;
        var reply = messages[1].GetProperty("id").GetString()!;
        var before = await ada.LastEventIdAsync(id);

        await Problems.AssertAsync(await ada.CancelAsync(id, reply), 409, "finished reply");
        await Problems.AssertAsync(await ada.CancelAsync(id, prompt), 409, "prompt");
        await Problems.AssertAsync(await ada.CancelAsync(id, "nope"), 404, "unknown message");
        Assert.Equal(before, await ada.LastEventIdAsync(id));
    }

    [Fact]
    public async Task An_unknown_invite_token_is_a_404()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await Problems.AssertAsync(await bob.Http.PostAsJsonAsync($"/api/conversations/{id}/members", new { inviteToken = "not-a-token" }), 404, "invite");
        await Problems.AssertAsync(await bob.Http.PostAsJsonAsync($"/api/conversations/{id}/members", new { inviteToken = 7 }), 400, "invite type");
    }

    [Fact]
    public async Task Bad_sign_in_and_bad_create_bodies_are_400s()
    {
        using var client = _server.CreateSocketClient();
        await Problems.AssertAsync(await client.PostAsync("/api/auth/guest", new StringContent("{\"name\": \"  \"}", Encoding.UTF8, "application/json")), 400, "blank name");
        await Problems.AssertAsync(await client.PostAsync("/api/auth/guest", new StringContent("nope", Encoding.UTF8, "application/json")), 400, "malformed");
        using var ada = await _server.SignInAsync("Ada");
        await Problems.AssertAsync(await ada.Http.PostAsync("/api/conversations", new StringContent("{\"title\": 5}", Encoding.UTF8, "application/json")), 400, "title type");
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

        var id = await ada.CreateConversationAsync();
        await ada.PostAcceptedAsync(id, "one");
        await ada.PostAcceptedAsync(id, "two");
        var before = (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength();
        var third = await ada.Http.PostAsJsonAsync($"/api/conversations/{id}/messages", new { content = "three" });
        await Problems.AssertAsync(third, 429, "third prompt");
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength());
    }
}

public static class Problems
{
    public static async Task AssertAsync(HttpResponseMessage response, int status, string because)
    {
        Assert.True((int)response.StatusCode == status, $"{because}: expected {status}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
    }
}
