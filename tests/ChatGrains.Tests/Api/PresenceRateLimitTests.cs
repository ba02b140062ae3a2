namespace ChatGrains.Tests.Api;

public sealed class TightTypingLimitFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["RateLimits:TypingPerMinute"] = "3",
    };
}

/// <summary>Typing notices are limited per signed-in user, like every limit a 429 problem with Retry-After.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class PresenceRateLimitTests(TightTypingLimitFixture fixture) : IClassFixture<TightTypingLimitFixture>
{
    private readonly ApiServer _server = fixture.Server;

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Typing_over_the_users_limit_is_a_429_problem_and_other_users_are_not_held_back(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);

        for (var i = 0; i < 3; i++) Assert.Equal(System.Net.HttpStatusCode.NoContent, (await ada.TypingAsync(id)).StatusCode);
        var refused = await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/typing", accept));
        await Problems.AssertAsync(refused, 429, "the fourth typing notice in a minute");
        Assert.NotNull(refused.Headers.RetryAfter);
        // Bob is on the same address: the limit is Ada's, not the address's.
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await bob.TypingAsync(id)).StatusCode);
    }
}
