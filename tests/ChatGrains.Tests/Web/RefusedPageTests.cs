using System.Net;
using System.Net.Http.Headers;
using ChatGrains.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// Guest tokens that expire 20 s after sign-in, checked without the usual five minutes' grace,
/// so a test can watch a session's token run out while its page is open.
/// </summary>
public sealed class ShortTokenWebFixture : WebFixture
{
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromSeconds(20);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Auth:GuestTokenLifetime"] = TokenLifetime.ToString(),
    };

    protected override Action<IServiceCollection> ConfigureServices => services =>
        services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o => o.TokenValidationParameters.ClockSkew = TimeSpan.Zero);
}

/// <summary>What the page shows when the service refuses it: not a member (404), signed out (401).</summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class RefusedPageTests(ShortTokenWebFixture web) : IClassFixture<ShortTokenWebFixture>, IAsyncLifetime
{
    private const string NotAMember = "This conversation does not exist, or you are not a member.";

    private readonly List<IBrowserContext> _browsers = [];

    [Fact]
    public async Task A_conversation_one_was_never_invited_to_or_that_does_not_exist_says_not_a_member()
    {
        var ada = await OpenAsync();
        await ada.SignInAsync("Ada");
        await ada.StartConversationAsync("Private");
        var eve = await OpenAsync();
        await eve.SignInAsync("Eve");

        await eve.Page.GotoAsync($"/#c={ada.ConversationId}");
        await Expect(eve.Page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(NotAMember);
        await Expect(eve.Title).ToBeEmptyAsync();

        await eve.Page.GotoAsync("/#c=no-such-conversation");
        await Expect(eve.Page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(NotAMember);
        // Refused, but still signed in.
        await Expect(eve.Page.GetByText("Signed in as Eve")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_watch_stream_that_reconnects_after_the_token_expired_gets_a_401_and_the_page_signs_out()
    {
        var ada = await OpenAsync();
        await ada.SignInAsync("Ada");
        var live = ada.Page.WaitForResponseAsync(r => r.Url.EndsWith("/events") && r.Status == 200);
        await ada.StartConversationAsync("Expiring");
        await live;
        var token = await ada.Page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('chatgrains.session')).token");

        await ada.Page.Context.SetOfflineAsync(true);
        await Expect(ada.Reconnecting).ToBeVisibleAsync();
        using var http = web.Server.CreateSocketClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await Eventually.Until(async () => (await http.GetAsync("/api/conversations")).StatusCode, s => s == HttpStatusCode.Unauthorized,
            ShortTokenWebFixture.TokenLifetime * 2, "the token has expired");

        var asked = new List<string>();
        ada.Page.Request += (_, r) => { if (r.Url.Contains("/api/")) asked.Add($"{r.Method} {new Uri(r.Url).AbsolutePath}"); };
        var refused = ada.Page.WaitForResponseAsync(r => r.Url.EndsWith("/events") && r.Status == 401);
        await ada.Page.Context.SetOfflineAsync(false);

        var response = await refused;
        Assert.StartsWith("application/problem+json", response.Headers["content-type"]);
        Assert.Equal("text/event-stream", response.Request.Headers["accept"]);
        await Expect(ada.Page.GetByLabel("Your name")).ToBeVisibleAsync();
        await Expect(ada.Page.GetByText("Signed in as Ada")).ToBeHiddenAsync();
        Assert.Null(await ada.Page.EvaluateAsync<string?>("() => localStorage.getItem('chatgrains.session')"));
        // It was the watch stream's answer that signed the page out: nothing else had asked.
        Assert.All(asked, a => Assert.EndsWith("/events", a));
    }

    private async Task<ChatPage> OpenAsync()
    {
        var browser = await web.NewBrowserAsync();
        _browsers.Add(browser);
        return await ChatPage.OpenAsync(browser);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var browser in _browsers) await browser.CloseAsync();
    }
}
