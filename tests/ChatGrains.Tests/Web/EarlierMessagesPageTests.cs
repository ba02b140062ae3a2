using ChatGrains.Tests.Api;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>Replies as fast as the generator goes, and room for many prompts a minute, to fill a long conversation quickly.</summary>
public sealed class FastRepliesWebFixture : WebFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Generator:TokensPerSecond"] = "0",
        ["RateLimits:PromptsPerMinute"] = "1000",
    };
}

/// <summary>
/// A conversation longer than the page loads at once (50 messages): the older ones come with
/// "Load earlier messages". Needs the snapshot's `limit`/`hasMore` and GET …/messages?before= (the paging branch).
/// </summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class EarlierMessagesPageTests(FastRepliesWebFixture web) : PageTest(web), IClassFixture<FastRepliesWebFixture>
{
    [Fact]
    public async Task A_long_conversation_opens_with_its_latest_messages_and_loads_the_earlier_ones_on_request()
    {
        var tab = await OpenAsync(await NewBrowserAsync());
        await tab.SignInAsync("Ada");
        using var ada = new ApiUser(Web.Server.CreateSocketClient());
        ada.Http.DefaultRequestHeaders.Authorization = new("Bearer", await tab.TokenAsync());
        var id = await ada.CreateConversationAsync("Long");
        // 30 exchanges, 60 messages: the page loads the latest 50 (prompts 6 to 30 and their replies).
        for (var i = 1; i <= 30; i++) await ada.PostAcceptedAsync(id, $"Question {i}");
        await ada.SettledSnapshotAsync(id);

        await tab.Page.GotoAsync($"/#c={id}");

        await Expect(tab.Prompts.Last.Body()).ToHaveTextAsync("Question 30");
        await Expect(tab.Prompts).ToHaveCountAsync(25);
        await Expect(tab.Prompts.First.Body()).ToHaveTextAsync("Question 6");
        await Expect(tab.LoadEarlier()).ToBeVisibleAsync();

        await tab.LoadEarlier().ClickAsync();

        await Expect(tab.Prompts).ToHaveCountAsync(30);
        await Expect(tab.Prompts.First.Body()).ToHaveTextAsync("Question 1");
        await Expect(tab.Replies).ToHaveCountAsync(30);
        // The page that holds the first message says there is nothing before it.
        await Expect(tab.LoadEarlier()).ToHaveCountAsync(0);
        // What was on screen when the button was pressed (the top: Question 6) stays there; the older messages come in above it.
        await Expect(tab.Prompts.Nth(5)).ToBeInViewportAsync();
        await Expect(tab.Prompts.First).Not.ToBeInViewportAsync();
        AssertNoPageReportedAnError();
    }
}
