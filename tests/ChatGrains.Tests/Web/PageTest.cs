using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// What a browser test holds: a browser per person and the tabs it opened in them, all closed
/// after the test, and the usual start of two people sharing a conversation.
/// </summary>
public abstract class PageTest(WebFixture web) : IAsyncLifetime
{
    private readonly List<IBrowserContext> _browsers = [];
    private readonly List<ChatPage> _tabs = [];

    protected WebFixture Web { get; } = web;

    /// <summary>A fresh browser profile: one person's browser (in another time zone and language, if given).</summary>
    protected async Task<IBrowserContext> NewBrowserAsync(string? timezoneId = null, string? locale = null)
    {
        var browser = await Web.NewBrowserAsync(timezoneId: timezoneId, locale: locale);
        _browsers.Add(browser);
        return browser;
    }

    protected async Task<ChatPage> OpenAsync(IBrowserContext browser, string url = "/")
    {
        var tab = await ChatPage.OpenAsync(browser, url);
        _tabs.Add(tab);
        return tab;
    }

    /// <summary>Ada starts a conversation and copies an invite link; Bob, in another browser, signs in and opens it.</summary>
    protected async Task<(ChatPage Ada, ChatPage Bob)> AdaInvitesBobAsync(string title = "Grains")
    {
        var ada = await OpenAsync(await NewBrowserAsync());
        await ada.SignInAsync("Ada");
        await ada.StartConversationAsync(title);
        var link = await ada.CopyInviteLinkAsync();

        var bob = await OpenAsync(await NewBrowserAsync());
        await bob.SignInAsync("Bob");
        await bob.Page.GotoAsync(link);
        await Expect(bob.Title).ToHaveTextAsync(title);
        Assert.Equal(ada.ConversationId, bob.ConversationId);
        await Expect(ada.MemberNames).ToHaveTextAsync(["Ada", "Bob"]);
        await Expect(bob.MemberNames).ToHaveTextAsync(["Ada", "Bob"]);
        await Expect(bob.Member("Ada")).ToContainTextAsync("owner");
        return (ada, bob);
    }

    /// <summary>How many event streams (watch and user streams) the service holds open.</summary>
    protected async Task<int> WatchersAsync()
    {
        using var http = Web.Server.CreateSocketClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", Web.OperatorKey);
        var feeds = await http.GetFromJsonAsync<JsonElement>("/health/feeds");
        return feeds.GetProperty("watchers").GetInt32();
    }

    /// <summary>No tab, open or closed, reported a mistake of its own or threw.</summary>
    protected void AssertNoPageReportedAnError() => Assert.All(_tabs, tab => Assert.True(tab.Errors.Count == 0, string.Join("\n", tab.Errors)));

    /// <summary>Saves what the tab shows as <c>TestResults/screenshots/{name}.png</c>.</summary>
    protected static async Task SaveScreenshotAsync(ChatPage tab, string name)
    {
        var folder = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");
        Directory.CreateDirectory(folder);
        await tab.Page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"{name}.png") });
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ChatGrains.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("ChatGrains.sln not found above the test binaries.");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var browser in _browsers) await browser.CloseAsync();
    }
}
