using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// One browser tab on the chat page, driven the way a person would: controls are found by their
/// labels and roles, so a missing label fails the tests.
/// </summary>
public sealed class ChatPage
{
    private ChatPage(IPage page)
    {
        Page = page;
        // The page reports its own mistakes (e.g. a reply whose streamed text differs from its
        // final text) as console errors starting "ChatGrains"; uncaught exceptions count too.
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.StartsWith("ChatGrains", StringComparison.Ordinal)) Errors.Add(message.Text);
        };
        page.PageError += (_, error) => Errors.Add(error);
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    public static async Task<ChatPage> OpenAsync(IBrowserContext browser, string url = "/")
    {
        var tab = new ChatPage(await browser.NewPageAsync());
        await tab.Page.GotoAsync(url);
        return tab;
    }

    public ILocator Title => Page.Locator("#conversation-title");

    public ILocator Prompts => Page.Locator("#messages > .message.user");

    public ILocator Replies => Page.Locator("#messages > .message.assistant");

    /// <summary>The reply being written, once it shows some text.</summary>
    public ILocator StreamingReplyWithText => Page.Locator("#messages > .message.assistant[data-status=streaming] .body:not(:empty)");

    public ILocator Reconnecting => Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Reconnecting" });

    public ILocator StopButton => Page.GetByRole(AriaRole.Button, new() { Name = "Stop", Exact = true });

    public ILocator MessageBox => Page.GetByRole(AriaRole.Textbox, new() { Name = "Message", Exact = true });

    /// <summary>The members of the open conversation, each with "owner", "online" or "typing…" beside the name.</summary>
    public ILocator Members => Page.GetByRole(AriaRole.List, new() { Name = "Members" }).GetByRole(AriaRole.Listitem);

    public ILocator MemberNames => Page.Locator("#members .name");

    public ILocator Member(string name) => Members.Filter(new() { Has = Page.Locator(".name", new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}$") }) });

    /// <summary>A conversation's link in the sidebar.</summary>
    public ILocator Sidebar(string title) =>
        Page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link).Filter(new() { Has = Page.Locator(".title", new() { HasTextRegex = new Regex($"^{Regex.Escape(title)}$") }) });

    /// <summary>The unread badge on a conversation's link ("3 unread"), hidden when nothing is unread.</summary>
    public ILocator Unread(string title) => Sidebar(title).Locator(".unread");

    public ILocator Alert => Page.GetByRole(AriaRole.Alert);

    /// <summary>The invites listed in Settings, and the Revoke buttons beside those this user may revoke.</summary>
    public ILocator Invites => Page.Locator("#invite-list > li");

    public ILocator RevokeButtons => Page.GetByRole(AriaRole.Button, new() { Name = "Revoke" });

    public ILocator Button(string name) => Page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    public string ConversationId => Regex.Match(new Uri(Page.Url).Fragment, "^#c=([^&]+)").Groups[1].Value;

    public async Task SignInAsync(string name)
    {
        await Page.GetByLabel("Your name").FillAsync(name);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in as guest" }).ClickAsync();
        await Expect(Page.GetByText($"Signed in as {name}")).ToBeVisibleAsync();
    }

    public async Task StartConversationAsync(string title)
    {
        await Page.GetByLabel("New conversation").FillAsync(title);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Start" }).ClickAsync();
        await Expect(Title).ToHaveTextAsync(title);
        await Expect(Page.GetByRole(AriaRole.Link, new() { Name = title })).ToBeVisibleAsync();
    }

    /// <summary>Creates an invite, copies it with the Copy button and returns what was copied.</summary>
    public async Task<string> CopyInviteLinkAsync()
    {
        await Page.GetByRole(AriaRole.Button, new() { Name = "Invite" }).ClickAsync();
        var link = Page.GetByLabel("Invite link");
        await Expect(link).ToHaveValueAsync(new Regex("#join="));
        await Page.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        await Expect(Page.GetByText("Copied.")).ToBeVisibleAsync();
        var copied = await Page.EvaluateAsync<string>("() => navigator.clipboard.readText()");
        Assert.Equal(await link.InputValueAsync(), copied);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Invite" }).ClickAsync();
        await Expect(link).ToBeHiddenAsync();
        return copied;
    }

    /// <summary>The signed-in user's token, as the page keeps it.</summary>
    public Task<string> TokenAsync() => Page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('chatgrains.session')).token");

    /// <summary>
    /// Hides or shows the tab as the browser does when another tab comes to the front: headless
    /// Chromium keeps every tab visible, so the document's visibility is set and announced here.
    /// </summary>
    public Task SetHiddenAsync(bool hidden) => Page.EvaluateAsync(
        """
        hidden => {
          window.__hidden = hidden;
          if (!window.__visibilitySet) {
            Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
            Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.__hidden });
            window.__visibilitySet = true;
          }
          document.dispatchEvent(new Event('visibilitychange'));
        }
        """, hidden);

    public async Task OpenSettingsAsync()
    {
        await Button("Settings").ClickAsync();
        await Expect(Page.GetByLabel("Conversation title")).ToBeVisibleAsync();
    }

    /// <summary>Types a prompt and presses Enter.</summary>
    public async Task SendAsync(string prompt)
    {
        await MessageBox.FillAsync(prompt);
        await MessageBox.PressAsync("Enter");
        await Expect(MessageBox).ToHaveValueAsync("");
    }

    /// <summary>Waits for the reply to end with <paramref name="status"/> and returns its text as shown.</summary>
    public async Task<string> FinalTextAsync(ILocator reply, string status = "complete")
    {
        await Expect(reply).ToHaveAttributeAsync("data-status", status);
        return await reply.Locator(".body").InnerTextAsync();
    }
}
