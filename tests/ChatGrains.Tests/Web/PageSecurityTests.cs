using ChatGrains.Tests.Generation.Fakes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>The page and Chromium, with replies from a fake OpenAI-compatible model, so a test chooses what the "model" writes.</summary>
public sealed class ScriptedModelWebFixture : WebFixture
{
    // Initialized before the base constructor starts the service with Settings.
    public FakeOpenAiServer Model { get; } = new() { TokenInterval = TimeSpan.FromMilliseconds(30) };

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Generator:Provider"] = "OpenAI",
        ["Generator:Endpoint"] = Model.Endpoint,
        ["Generator:Model"] = "gpt-fake",
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
    }
}

/// <summary>
/// The page under its Content-Security-Policy: everything a person does works without a single
/// violation, and a reply written to attack the reader is shown as inert text and markup.
/// </summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class PageSecurityTests(ScriptedModelWebFixture web) : IClassFixture<ScriptedModelWebFixture>, IAsyncLifetime
{
    // Recorded in the page before any of its own script runs (init scripts are not subject to the CSP).
    private const string RecordViolations =
        "window.__cspViolations = [];" +
        "document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));";

    private IBrowserContext _browser = null!;
    private readonly List<string> _consoleErrors = [];

    [Fact]
    public async Task Signing_in_posting_and_streaming_a_reply_cause_no_policy_violation()
    {
        web.Model.Then(new Answer.Stream(Chunks("Grains are **virtual actors**: each has an identity and `state`, and the runtime activates it on demand.")));
        var page = await OpenAsync();
        await page.SignInAsync("Ada");
        await page.StartConversationAsync("Policies");

        await page.SendAsync("What is a grain?");
        await Expect(page.StreamingReplyWithText).ToBeVisibleAsync();
        var text = await page.FinalTextAsync(page.Replies.Last);

        Assert.Contains("virtual actors", text);
        Assert.Empty(await ViolationsAsync(page));
        Assert.Empty(_consoleErrors);
        Assert.Empty(page.Errors);
        // The policy is in force: script the page did not load from its origin is refused.
        var ran = await page.Page.EvaluateAsync<bool>(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.head.append(s); return window.__inlineRan === true; }");
        Assert.False(ran);
        await Expect(page.Page.Locator("body")).ToBeVisibleAsync();
        Assert.Contains(await ViolationsAsync(page), v => v.StartsWith("script-src", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reply_that_attacks_the_reader_is_rendered_inert()
    {
        const string attack = """
            Here is **bold** text.

            <script>window.__pwned = 'script'</script>

            <img src="x" onerror="window.__pwned = 'img'">

            [a markdown link](javascript:window.__pwned='markdown')

            <a href="javascript:window.__pwned='anchor'" onclick="window.__pwned='click'">a raw link</a>

            <iframe src="/"></iframe><form action="/api/auth/guest"><button formaction="javascript:alert(1)">go</button></form>

            <span style="position:fixed;inset:0">a full-page overlay</span><style>body { display: none }</style>
            """;
        web.Model.Then(new Answer.Stream(Chunks(attack)));
        var page = await OpenAsync();
        await page.SignInAsync("Ada");
        await page.StartConversationAsync("Attack");

        await page.SendAsync("Say something nasty.");
        await page.FinalTextAsync(page.Replies.Last);

        var body = page.Replies.Last.Locator(".body");
        await Expect(body.Locator("strong")).ToHaveTextAsync("bold");
        await Expect(body.GetByText("a markdown link")).ToBeVisibleAsync();
        await Expect(body.GetByText("a raw link")).ToBeVisibleAsync();
        // Sanitized before it reached the DOM, not merely blocked by the policy.
        var html = await body.InnerHTMLAsync();
        Assert.True(await body.Locator("script, iframe, form, button, style, [style], [onerror], [onclick], [formaction]").CountAsync() == 0, html);
        Assert.Equal(0, await body.Locator("a[href^='javascript' i]").CountAsync());
        await body.GetByText("a raw link").ClickAsync();
        await body.GetByText("a markdown link").ClickAsync();
        Assert.Null(await page.Page.EvaluateAsync<string?>("() => window.__pwned ?? null"));
        Assert.Empty(page.Errors);
        await Expect(page.MessageBox).ToBeVisibleAsync();
    }

    private async Task<ChatPage> OpenAsync()
    {
        var tab = await ChatPage.OpenAsync(_browser);
        tab.Page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase)) _consoleErrors.Add(message.Text);
        };
        return tab;
    }

    private static async Task<string[]> ViolationsAsync(ChatPage page) => await page.Page.EvaluateAsync<string[]>("() => window.__cspViolations");

    /// <summary>The text as a model streams it: a few characters at a time, tags split across tokens.</summary>
    private static string[] Chunks(string text) => text.Chunk(7).Select(c => new string(c)).ToArray();

    public async Task InitializeAsync()
    {
        _browser = await web.NewBrowserAsync();
        await _browser.AddInitScriptAsync(RecordViolations);
    }

    public async Task DisposeAsync() => await _browser.CloseAsync();
}
