using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// The message tree's controls on a message of the thread, found by role and label as a person
/// (or a screen reader) finds them: the versions switcher, Edit, Regenerate, Fork.
/// </summary>
public static class BranchControls
{
    /// <summary>The text of a message as shown.</summary>
    public static ILocator Body(this ILocator message) => message.Locator(".body");

    /// <summary>"2/3" on a message with other versions (the switcher is absent on one without).</summary>
    public static ILocator Version(this ILocator message) => message.Locator(".versions .position [aria-hidden]");

    public static ILocator Switcher(this ILocator message) => message.GetByRole(AriaRole.Group, new() { NameRegex = new("^Versions of this") });

    /// <summary>‹ or › of a prompt ("Previous prompt") or a reply ("Next reply").</summary>
    public static ILocator Control(this ILocator message, string name) => message.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    public static ILocator LoadEarlier(this ChatPage tab) => tab.Button("Load earlier messages");

    /// <summary>Opens a prompt's inline editor, types the new text and sends it with Enter.</summary>
    public static async Task EditAsync(this ChatPage tab, ILocator prompt, string text)
    {
        await prompt.Control("Edit").ClickAsync();
        var editor = prompt.GetByRole(AriaRole.Textbox, new() { Name = "Edit your message", Exact = true });
        await Expect(editor).ToBeFocusedAsync();
        await editor.FillAsync(text);
        await prompt.Control("Send edited message").ClickAsync();
        await Expect(editor).ToHaveCountAsync(0);
    }
}
