using ChatGrains.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// The chat page in headless Chromium against the real service: people and tabs share a
/// conversation live, through reloads, lost connections and stops.
/// </summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class ChatPageTests(WebFixture web) : PageTest(web), IClassFixture<WebFixture>
{
    [Fact]
    public async Task The_page_is_served_at_the_root_and_unknown_api_paths_stay_problem_json()
    {
        using var http = Web.Server.CreateSocketClient();

        var page = await http.GetAsync("/");
        var unknown = await http.GetAsync("/api/no-such-route");

        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>ChatGrains</title>", await page.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_prompt_streams_into_both_members_pages_with_identical_text()
    {
        var (ada, bob) = await AdaInvitesBobAsync();

        await ada.SendAsync("How do grains talk to each other?");

        // Bob sees who asked, and the reply arriving while it is written, not only at the end.
        await Expect(bob.Prompts.Last.Locator(".author")).ToHaveTextAsync("Ada");
        await Expect(bob.Prompts.Last.Locator(".body")).ToHaveTextAsync("How do grains talk to each other?");
        await Expect(bob.StreamingReplyWithText).ToBeVisibleAsync();
        await Expect(ada.StreamingReplyWithText).ToBeVisibleAsync();
        var adaText = await ada.FinalTextAsync(ada.Replies.Last);
        var bobText = await bob.FinalTextAsync(bob.Replies.Last);

        Assert.True(adaText.Length > 200, adaText);
        Assert.Equal(adaText, bobText);
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task A_page_reloaded_mid_reply_shows_the_text_so_far_and_ends_with_the_same_text()
    {
        var (ada, bob) = await AdaInvitesBobAsync();
        await ada.SendAsync("What happens when a silo dies?");
        await Expect(bob.StreamingReplyWithText).ToBeVisibleAsync();

        await bob.Page.ReloadAsync();

        await Expect(bob.StreamingReplyWithText).ToBeVisibleAsync();
        var adaText = await ada.FinalTextAsync(ada.Replies.Last);
        var bobText = await bob.FinalTextAsync(bob.Replies.Last);
        Assert.Equal(Words(adaText), Words(bobText));
        Assert.Equal(adaText, bobText);
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Stop_in_one_tab_stops_the_reply_in_every_tab()
    {
        var (ada, bob) = await AdaInvitesBobAsync();
        var adasSecondTab = await OpenAsync(ada.Page.Context, $"/#c={ada.ConversationId}");
        await ada.SendAsync("Tell me about virtual actors.");
        await Expect(adasSecondTab.StreamingReplyWithText).ToBeVisibleAsync();

        await adasSecondTab.StopButton.ClickAsync();

        var texts = new List<string>();
        foreach (var tab in new[] { ada, adasSecondTab, bob })
        {
            texts.Add(await tab.FinalTextAsync(tab.Replies.Last, "cancelled"));
            await Expect(tab.Replies.Last.Locator(".status")).ToHaveTextAsync("Stopped");
            await Expect(tab.StopButton).ToBeHiddenAsync();
        }
        Assert.Single(texts.Distinct());
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Ten_tabs_of_one_conversation_in_one_browser_all_stream_the_reply_even_when_the_streaming_tab_closes()
    {
        var browser = await NewBrowserAsync();
        var first = await OpenAsync(browser);
        await first.SignInAsync("Ada");
        await first.StartConversationAsync("Ten tabs");
        var tabs = new List<ChatPage> { first };
        for (var i = 1; i < 10; i++) tabs.Add(await OpenAsync(browser, $"/#c={first.ConversationId}"));
        foreach (var tab in tabs) await Expect(tab.Title).ToHaveTextAsync("Ten tabs");

        await tabs[^1].SendAsync("Ten tabs, one stream?");

        // Each tab shows part of the reply while it is still being written…
        foreach (var tab in tabs) await Expect(tab.StreamingReplyWithText).ToBeVisibleAsync();
        // …through a single watch stream that the tabs share (the browser allows 6 connections per host),
        // beside the one stream of the user's own list that they share too.
        await Eventually.Until(WatchersAsync, n => n == 2, TimeSpan.FromSeconds(10), "the ten tabs hold one watch stream and one user stream");

        // The first tab holds the stream (it opened the conversation first). When it closes mid-reply,
        // another tab takes over from the last event it applied, and every tab still gets every word.
        await first.Page.CloseAsync();
        tabs.Remove(first);
        Assert.Equal("streaming", await tabs[0].Replies.Last.GetAttributeAsync("data-status"));
        var texts = new List<string>();
        foreach (var tab in tabs) texts.Add(await tab.FinalTextAsync(tab.Replies.Last));
        Assert.Single(texts.Distinct());
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Going_offline_mid_reply_shows_reconnecting_and_resumes_without_loss()
    {
        var (ada, bob) = await AdaInvitesBobAsync();
        await ada.SendAsync("Does a dropped connection lose words?");
        await Expect(bob.StreamingReplyWithText).ToBeVisibleAsync();

        await bob.Page.Context.SetOfflineAsync(true);
        await Expect(bob.Reconnecting).ToBeVisibleAsync();
        await bob.Page.Context.SetOfflineAsync(false);

        await Expect(bob.Reconnecting).ToBeHiddenAsync();
        var adaText = await ada.FinalTextAsync(ada.Replies.Last);
        var bobText = await bob.FinalTextAsync(bob.Replies.Last);
        Assert.Equal(adaText, bobText);
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task The_conversation_view_is_saved_as_a_screenshot()
    {
        var (ada, bob) = await AdaInvitesBobAsync();
        // Shift+Enter adds a line; Enter sends.
        await ada.MessageBox.FillAsync("Explain grains in a few points.");
        await ada.MessageBox.PressAsync("Shift+Enter");
        await ada.MessageBox.PressSequentiallyAsync("Keep it short.");
        await ada.MessageBox.PressAsync("Enter");
        await Expect(bob.Prompts.Last.Locator(".body")).ToHaveTextAsync("Explain grains in a few points.\nKeep it short.");
        await bob.FinalTextAsync(bob.Replies.Last);

        await bob.SendAsync("And how do **streams** work?");
        // Ada's prompt goes in once Bob's reply is under way, so hers waits behind it: the
        // message box empties before the POST has reached the service, and a slow tab's could
        // otherwise land second.
        await Expect(ada.Prompts.Last.Locator(".body")).ToHaveTextAsync("And how do **streams** work?");
        await Expect(ada.StreamingReplyWithText).ToBeVisibleAsync();
        await ada.SendAsync("Which storage does it use?");
        await Expect(ada.Replies.Last.Locator(".status")).ToHaveTextAsync("Queued");

        await SaveScreenshotAsync(ada, "conversation");
        await ada.Page.SetViewportSizeAsync(375, 740);
        await Expect(ada.Page.GetByRole(AriaRole.Link, new() { Name = "← Conversations" })).ToBeVisibleAsync();
        await SaveScreenshotAsync(ada, "conversation-phone");
        AssertNoPageReportedAnError();
    }

    private static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}
