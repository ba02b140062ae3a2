using ChatGrains.Tests.Api;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// Two people in two browsers share a conversation: who is here and typing, removal, invites
/// and deletion reaching the other's sidebar live, unread badges, and who may do what.
/// </summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class PeoplePageTests(WebFixture web) : PageTest(web), IClassFixture<WebFixture>
{
    // The contract's bound is 2 s from the change; the rest is slack for a loaded machine.
    private static readonly LocatorAssertionsToContainTextOptions AtOnce = new() { Timeout = 5_000 };

    [Fact]
    public async Task Bob_sees_Ada_come_online_and_type()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Who is here");
        await ada.Page.GotoAsync("/#");
        await Expect(ada.Page.GetByText("Pick a conversation")).ToBeVisibleAsync();
        await Expect(bob.Member("Ada")).Not.ToContainTextAsync("online");
        await Expect(bob.Member("Bob")).ToContainTextAsync("online");

        await ada.Sidebar("Who is here").ClickAsync();

        await Expect(bob.Member("Ada")).ToContainTextAsync("online");
        await Expect(ada.Member("Bob")).ToContainTextAsync("online");
        // A second tab of Bob's shares the first one's stream: it is told who is here, and who types.
        var bobsSecondTab = await OpenAsync(bob.Page.Context, $"/#c={bob.ConversationId}");
        await Expect(bobsSecondTab.Member("Ada")).ToContainTextAsync("online");
        await ada.MessageBox.PressSequentiallyAsync("Are you th");
        await Expect(bob.Member("Ada")).ToContainTextAsync("typing…");
        await Expect(bob.Page.GetByText("Ada is typing…")).ToBeVisibleAsync();
        await Expect(bobsSecondTab.Member("Ada")).ToContainTextAsync("typing…");
        // Nobody is told they are typing themselves.
        await Expect(ada.Member("Ada")).Not.ToContainTextAsync("typing");
        // Typing shows for about 5 s after the last keystroke.
        await Expect(bob.Member("Ada")).Not.ToContainTextAsync("typing…");
        await Expect(bob.Member("Ada")).ToContainTextAsync("online");

        await ada.Page.CloseAsync();
        await Expect(bob.Member("Ada")).Not.ToContainTextAsync("online");
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Ada_removes_Bob_and_each_of_Bobs_tabs_says_so_at_once()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Removal");
        var bobsSecondTab = await OpenAsync(bob.Page.Context, $"/#c={bob.ConversationId}");
        await Expect(bobsSecondTab.MemberNames).ToHaveTextAsync(["Ada", "Bob"]);
        // Only the owner is offered removal.
        await Expect(bob.Page.GetByRole(AriaRole.Button, new() { Name = "Remove" })).ToHaveCountAsync(0);

        await ada.Button("Remove Bob").ClickAsync();

        foreach (var tab in new[] { bob, bobsSecondTab })
        {
            await Expect(tab.Alert).ToContainTextAsync("You were removed from this conversation", AtOnce);
            await Expect(tab.MessageBox).ToBeHiddenAsync();
            await Expect(tab.Sidebar("Removal")).ToHaveCountAsync(0);
        }
        await Expect(ada.MemberNames).ToHaveTextAsync(["Ada"]);
        await SaveScreenshotAsync(bob, "removed");
        await bob.Page.ReloadAsync();
        await Expect(bob.Alert).ToHaveTextAsync("This conversation does not exist, or you are not a member.");
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task A_conversation_Bob_is_invited_to_appears_in_his_open_sidebar_and_disappears_when_Ada_deletes_it()
    {
        var bob = await OpenAsync(await NewBrowserAsync());
        await bob.SignInAsync("Bob");
        await bob.StartConversationAsync("Bob's own");
        await bob.Page.EvaluateAsync("() => window.__notReloaded = true");
        var ada = await OpenAsync(await NewBrowserAsync());
        await ada.SignInAsync("Ada");
        await ada.StartConversationAsync("Surprise");
        var link = await ada.CopyInviteLinkAsync();

        // Bob opens the link in a second tab; his first tab is left as it was.
        var bobsSecondTab = await OpenAsync(bob.Page.Context, link);
        await Expect(bobsSecondTab.Title).ToHaveTextAsync("Surprise");

        await Expect(bob.Sidebar("Surprise")).ToBeVisibleAsync();
        await Expect(bob.Title).ToHaveTextAsync("Bob's own");
        Assert.True(await bob.Page.EvaluateAsync<bool>("() => window.__notReloaded === true"));

        await ada.OpenSettingsAsync();
        await ada.Button("Delete conversation").ClickAsync();
        await ada.Button("Yes, delete it").ClickAsync();

        await Expect(bob.Sidebar("Surprise")).ToHaveCountAsync(0);
        await Expect(bobsSecondTab.Alert).ToContainTextAsync("This conversation was deleted", AtOnce);
        await Expect(ada.Sidebar("Surprise")).ToHaveCountAsync(0);
        await Expect(bob.Sidebar("Bob's own")).ToBeVisibleAsync();
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task The_unread_badge_counts_what_Bob_missed_elsewhere_and_clears_when_he_opens_it()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Busy");
        await bob.StartConversationAsync("Elsewhere");
        await Expect(bob.Unread("Busy")).ToBeHiddenAsync();

        // Bob's connection is down while Ada posts: his list resumes from the last event it applied.
        await bob.Page.Context.SetOfflineAsync(true);
        await Expect(bob.Reconnecting).ToBeVisibleAsync();
        await ada.SendAsync("Anyone there?");
        await ada.FinalTextAsync(ada.Replies.Last);
        await bob.Page.Context.SetOfflineAsync(false);

        // Ada's prompt and the assistant's reply.
        await Expect(bob.Unread("Busy")).ToHaveTextAsync("2 unread");
        await Expect(bob.Unread("Busy")).ToBeVisibleAsync();
        await SaveScreenshotAsync(bob, "sidebar-unread");
        await Expect(ada.Unread("Busy")).ToBeHiddenAsync();

        await bob.Sidebar("Busy").ClickAsync();
        await Expect(bob.Title).ToHaveTextAsync("Busy");
        await Expect(bob.Unread("Busy")).ToBeHiddenAsync();

        // Read on the service too: back elsewhere, and after a reload, it stays cleared.
        await bob.Sidebar("Elsewhere").ClickAsync();
        await Expect(bob.Title).ToHaveTextAsync("Elsewhere");
        await Expect(bob.Unread("Busy")).ToBeHiddenAsync();
        await bob.Page.ReloadAsync();
        await Expect(bob.Sidebar("Busy")).ToBeVisibleAsync();
        await Expect(bob.Unread("Busy")).ToBeHiddenAsync();
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task A_tab_behind_others_holds_no_watch_stream_yet_counts_unread_and_catches_up_when_shown()
    {
        var tab = await OpenAsync(await NewBrowserAsync());
        await tab.SignInAsync("Ada");
        await tab.StartConversationAsync("Behind");
        await Eventually.Until(WatchersAsync, n => n == 2, TimeSpan.FromSeconds(10), "the tab holds the conversation's watch stream and the user stream");

        await tab.SetHiddenAsync(true);

        await Eventually.Until(WatchersAsync, n => n == 1, TimeSpan.FromSeconds(10), "the hidden tab holds only the user stream");
        // Someone (Ada herself, from elsewhere) posts meanwhile: the user stream still counts it.
        using var elsewhere = new ApiUser(Web.Server.CreateSocketClient());
        elsewhere.Http.DefaultRequestHeaders.Authorization = new("Bearer", await tab.TokenAsync());
        await elsewhere.PostAcceptedAsync(tab.ConversationId, "Posted while the tab was hidden");
        await Expect(tab.Unread("Behind")).ToHaveTextAsync("1 unread");
        await Expect(tab.Prompts).ToHaveCountAsync(0);

        await tab.SetHiddenAsync(false);

        await Expect(tab.Prompts.Last.Locator(".body")).ToHaveTextAsync("Posted while the tab was hidden");
        await Expect(tab.Unread("Behind")).ToBeHiddenAsync();
        await tab.FinalTextAsync(tab.Replies.Last);
        await Eventually.Until(WatchersAsync, n => n == 2, TimeSpan.FromSeconds(10), "the shown tab holds the watch stream again");
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task A_member_renames_revokes_only_their_own_invite_and_leaves_while_only_the_owner_sees_delete_and_remove()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Before");

        await bob.OpenSettingsAsync();
        await Expect(bob.Button("Leave conversation")).ToBeVisibleAsync();
        await Expect(bob.Button("Delete conversation")).ToBeHiddenAsync();
        // Ada's invite is listed for Bob, but only its creator or the owner may revoke it.
        await Expect(bob.Invites).ToHaveCountAsync(1);
        await Expect(bob.RevokeButtons).ToHaveCountAsync(0);
        await bob.Page.GetByLabel("Conversation title").FillAsync("After");
        await bob.Button("Rename").ClickAsync();

        await Expect(ada.Title).ToHaveTextAsync("After");
        await Expect(ada.Sidebar("After")).ToBeVisibleAsync();
        await Expect(bob.Sidebar("After")).ToBeVisibleAsync();

        await bob.Button("Invite").ClickAsync();
        await bob.OpenSettingsAsync();
        await Expect(bob.Invites).ToHaveCountAsync(2);
        await Expect(bob.RevokeButtons).ToHaveCountAsync(1);

        // The owner may revoke every invite.
        await ada.OpenSettingsAsync();
        await Expect(ada.Button("Delete conversation")).ToBeVisibleAsync();
        await Expect(ada.Button("Leave conversation")).ToBeHiddenAsync();
        await Expect(ada.RevokeButtons).ToHaveCountAsync(2);
        await SaveScreenshotAsync(ada, "conversation-settings");
        await ada.Page.GetByRole(AriaRole.Button, new() { Name = "Revoke the link by Bob" }).ClickAsync();
        await Expect(ada.Invites).ToHaveCountAsync(1);

        // Bob's list still shows his invite: revoking it again is refused in words, and the list catches up.
        await bob.RevokeButtons.ClickAsync();
        await Expect(bob.Alert).ToHaveTextAsync("That invite no longer exists.");
        await Expect(bob.Invites).ToHaveCountAsync(1);
        await Expect(bob.RevokeButtons).ToHaveCountAsync(0);

        await bob.Button("Leave conversation").ClickAsync();
        await Expect(bob.Page.GetByText("Pick a conversation")).ToBeVisibleAsync();
        await Expect(bob.Sidebar("After")).ToHaveCountAsync(0);
        await Expect(ada.MemberNames).ToHaveTextAsync(["Ada"]);
        AssertNoPageReportedAnError();
    }
}
