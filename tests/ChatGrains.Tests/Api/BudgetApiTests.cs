using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The service with a budget of one token a day: any reply puts its payer over.</summary>
public sealed class OneTokenBudgetFixture : ApiServerFixture
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Limits:TokensPerUserPerDay"] = "1" };
}

/// <summary>Token budgets over a real socket: 429 when over, nothing created, and what /api/me/usage says.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class BudgetApiTests(OneTokenBudgetFixture fixture) : IClassFixture<OneTokenBudgetFixture>
{
    [Fact]
    public async Task Over_budget_a_post_gets_429_problem_json_with_Retry_After_to_UTC_midnight_under_every_Accept_and_creates_nothing()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await ada.ExchangeAsync(id, "spend it all");
        var before = (await ada.SnapshotAsync(id)).GetRawText();

        foreach (var accept in Problems.Accepts)
        {
            using var response = await ada.PostRawAsync(id, """{"content":"one more"}""", accept, Guid.NewGuid().ToString());
            var body = await response.Content.ReadAsStringAsync();
            await Problems.AssertAsync(response, 429, "a post over budget");
            Assert.Equal(BudgetRequests.NextMidnight(), JsonDocument.Parse(body).RootElement.GetProperty("resetsAt").GetDateTimeOffset());
            var retryAfter = response.Headers.RetryAfter?.Delta ?? throw new Xunit.Sdk.XunitException("no Retry-After");
            Assert.InRange(retryAfter, BudgetRequests.NextMidnight() - DateTimeOffset.UtcNow - TimeSpan.FromSeconds(5),
                BudgetRequests.NextMidnight() - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(5));
        }
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
    }

    [Fact]
    public async Task Validation_comes_before_the_budget()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await ada.ExchangeAsync(id, "spend it all");

        var cases = new (string Conversation, string Body, string? Key, int Status)[]
        {
            (id, """{"content":"  "}""", null, 400),
            (id, """{"content":42}""", null, 400),
            (id, "not json", null, 400),
            (id, """{"content":"hi"}""", new string('k', 129), 400),
            (id, JsonSerializer.Serialize(new { content = new string('x', 33 * 1024) }), null, 413),
            (Guid.NewGuid().ToString("N"), """{"content":"hi"}""", null, 404),
            (id, """{"content":"hi"}""", null, 429),
        };
        foreach (var (conversation, body, key, status) in cases)
        {
            using var response = await ada.PostRawAsync(conversation, body, "application/json", key);
            await Problems.AssertAsync(response, status, body.Length > 40 ? body[..40] : body);
        }
    }

    [Fact]
    public async Task A_retry_with_a_used_Idempotency_Key_is_answered_as_before_even_over_budget()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var first = await ada.PostAsync(id, "the only one", "key-1");
        var exchange = await first.ReadToEndAsync();
        var before = (await ada.SnapshotAsync(id)).GetRawText();

        await using var retried = await ada.PostAsync(id, "the only one", "key-1");
        Assert.Equal(exchange.Select(e => (e.Id, e.Type)), (await retried.ReadToEndAsync()).Select(e => (e.Id, e.Type)));
        var accepted = await ada.PostAcceptedAsync(id, "the only one", "key-1");
        Assert.Equal(exchange[0].MessageId, accepted.GetProperty("userMessageId").GetString());
        // The same key with other content is still 422, not 429: it is told apart before the budget.
        using var reused = await ada.PostRawAsync(id, """{"content":"something else"}""", "application/json", "key-1");
        await Problems.AssertAsync(reused, 422, "a reused key");
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());
    }

    [Fact]
    public async Task Over_budget_a_regenerate_gets_429_with_Retry_After_under_every_Accept_and_creates_nothing_but_a_used_key_is_answered()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        using var bob = await fixture.Server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var reply = await ReplyIdAsync(ada, id, "spend it all");
        var before = (await ada.SettledSnapshotAsync(id)).GetRawText();

        foreach (var accept in Problems.Accepts)
        {
            using var response = await ada.Http.SendAsync(TreeRequests.RegenerateRequest(id, reply, accept, Guid.NewGuid().ToString()),
                HttpCompletionOption.ResponseHeadersRead);
            var body = await response.Content.ReadAsStringAsync();
            await Problems.AssertAsync(response, 429, "a regenerate over budget");
            Assert.Equal(BudgetRequests.NextMidnight(), JsonDocument.Parse(body).RootElement.GetProperty("resetsAt").GetDateTimeOffset());
            var retryAfter = response.Headers.RetryAfter?.Delta ?? throw new Xunit.Sdk.XunitException("no Retry-After");
            Assert.InRange(retryAfter, BudgetRequests.NextMidnight() - DateTimeOffset.UtcNow - TimeSpan.FromSeconds(5),
                BudgetRequests.NextMidnight() - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(5));
        }
        Assert.Equal(before, (await ada.SnapshotAsync(id)).GetRawText());

        // The checks come first: an unknown message is 404, even over budget.
        await Problems.AssertAsync(await ada.Http.SendAsync(TreeRequests.RegenerateRequest(id, "no-such-message", "application/json")), 404, "an unknown message");

        // Bob, under budget, regenerates once; his retry with the same key, now over budget, gets the same ids.
        var first = await bob.RegenerateAcceptedAsync(id, reply, "regen-key");
        await bob.SettledSnapshotAsync(id);
        var retried = await bob.RegenerateAcceptedAsync(id, reply, "regen-key");
        Assert.Equal(first.GetRawText(), retried.GetRawText());
        using var fresh = await bob.Http.SendAsync(TreeRequests.RegenerateRequest(id, reply, "application/json", "another-key"));
        await Problems.AssertAsync(fresh, 429, "a new regenerate over budget");
    }

    [Fact]
    public async Task A_regenerated_reply_is_charged_to_who_regenerated_it_not_to_the_prompts_author()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        using var bob = await fixture.Server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var reply = await ReplyIdAsync(ada, id, "what does this cost?");
        var adas = BudgetRequests.Tokens(await ada.UsageAsync());

        await using var regenerate = await bob.RegenerateAsync(id, reply);
        var completed = (await regenerate.ReadToEndAsync()).Single(e => e.Type == "message.completed");
        var cost = BudgetRequests.Tokens(completed.Data.GetProperty("usage"));

        Assert.True(cost.Prompt > 0 && cost.Completion > 0, $"{cost}");
        Assert.Equal(cost, BudgetRequests.Tokens(await bob.UsageAsync()));
        Assert.Equal(adas, BudgetRequests.Tokens(await ada.UsageAsync()));
    }

    private static async Task<string> ReplyIdAsync(ApiUser user, string conversationId, string content)
    {
        await using var stream = await user.PostAsync(conversationId, content);
        return (await stream.ReadToEndAsync()).Single(e => e.Type == "message.completed").MessageId!;
    }

    [Fact]
    public async Task Usage_is_what_the_users_replies_reported_with_the_limit_and_the_next_UTC_midnight()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        using var bob = await fixture.Server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var fresh = await ada.UsageAsync();
        Assert.Equal((0, 0, 1), (fresh.GetProperty("promptTokens").GetInt32(), fresh.GetProperty("completionTokens").GetInt32(), fresh.GetProperty("limit").GetInt32()));

        var reply = await ada.ExchangeAsync(id, "what does this cost?");

        var usage = await ada.UsageAsync();
        Assert.Equal(reply, BudgetRequests.Tokens(usage));
        Assert.True(reply.Prompt > 0 && reply.Completion >= 100, $"{reply}");
        Assert.Equal(BudgetRequests.NextMidnight(), usage.GetProperty("resetsAt").GetDateTimeOffset());
        // Bob, in the same conversation, paid nothing and may still post.
        Assert.Equal((0, 0), BudgetRequests.Tokens(await bob.UsageAsync()));
        Assert.Equal(HttpStatusCode.Accepted, (await bob.PostRawAsync(id, """{"content":"my turn"}""", "application/json")).StatusCode);
    }
}

/// <summary>Without a limit (the default) nothing is refused and usage still adds up.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class UnlimitedBudgetApiTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task Without_a_limit_usage_sums_every_reply_of_the_day_and_limit_is_0()
    {
        using var ada = await fixture.Server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var first = await ada.ExchangeAsync(id, "one");
        var second = await ada.ExchangeAsync(id, "two");

        var usage = await ada.UsageAsync();
        Assert.Equal((first.Prompt + second.Prompt, first.Completion + second.Completion), BudgetRequests.Tokens(usage));
        Assert.Equal(0, usage.GetProperty("limit").GetInt64());
        using var unauthenticated = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        await Problems.AssertAsync(await unauthenticated.GetAsync("/api/me/usage"), 401, "usage without a token");
    }
}
