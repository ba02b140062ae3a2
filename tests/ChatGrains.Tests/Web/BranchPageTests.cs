using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>
/// The message tree on the page, with two people in two browsers: an edit opens a branch, a
/// regenerate streams a new reply, the switchers move the shared head, and fork opens a copy —
/// each seen live in both browsers, since the head is the conversation's, not the tab's.
/// </summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class BranchPageTests(WebFixture web) : PageTest(web), IClassFixture<WebFixture>
{
    [Fact]
    public async Task Ada_edits_a_prompt_and_Bobs_tab_switches_to_the_new_branch_live()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Edits");
        await ada.SendAsync("What is a grain?");
        await ada.FinalTextAsync(ada.Replies.Last);
        await ada.SendAsync("And a silo?");
        // Both tabs show the second exchange before Ada edits its prompt: on a busy machine the
        // last prompt on screen could still be the first one a moment after sending.
        foreach (var tab in new[] { ada, bob })
        {
            await Expect(tab.Prompts.Last.Body()).ToHaveTextAsync("And a silo?");
            await Expect(tab.Replies).ToHaveCountAsync(2);
        }
        var oldReply = await bob.FinalTextAsync(bob.Replies.Last);

        await ada.EditAsync(ada.Prompts.Last, "And a cluster?");

        foreach (var tab in new[] { bob, ada })
        {
            await Expect(tab.Prompts.Last.Body()).ToHaveTextAsync("And a cluster?");
            await Expect(tab.Prompts.Last.Version()).ToHaveTextAsync("2/2");
            await Expect(tab.Prompts).ToHaveCountAsync(2);
            await Expect(tab.Prompts.First.Body()).ToHaveTextAsync("What is a grain?");
            // The first prompt has no other version, so no switcher.
            await Expect(tab.Prompts.First.Switcher()).ToHaveCountAsync(0);
        }
        await Expect(bob.StreamingReplyWithText).ToBeVisibleAsync();
        var newReply = await bob.FinalTextAsync(bob.Replies.Last);
        Assert.NotEqual(oldReply, newReply);
        Assert.Equal(newReply, await ada.FinalTextAsync(ada.Replies.Last));
        await Expect(bob.Page.GetByText("And a silo?")).ToHaveCountAsync(0);
        await SaveScreenshotAsync(bob, "branch-edited");
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Bob_switches_back_to_the_first_version_of_a_first_prompt_and_both_tabs_follow()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Versions");
        await ada.SendAsync("What is a grain?");
        var firstReply = await ada.FinalTextAsync(ada.Replies.Last);
        // A first prompt's versions are the other first prompts.
        await ada.EditAsync(ada.Prompts.First, "What is a silo?");
        await Expect(bob.Prompts.First.Version()).ToHaveTextAsync("2/2");
        var secondReply = await bob.FinalTextAsync(bob.Replies.Last);
        await Expect(bob.Prompts.First.Control("Next prompt")).ToBeDisabledAsync();

        await bob.Prompts.First.Control("Previous prompt").ClickAsync();

        foreach (var tab in new[] { ada, bob })
        {
            await Expect(tab.Prompts.First.Version()).ToHaveTextAsync("1/2");
            await Expect(tab.Prompts.First.Body()).ToHaveTextAsync("What is a grain?");
            Assert.Equal(firstReply, await tab.FinalTextAsync(tab.Replies.Last));
            await Expect(tab.Prompts).ToHaveCountAsync(1);
        }
        // The keyboard stays on the switcher, now on the version shown.
        await Expect(bob.Prompts.First.Control("Next prompt")).ToBeFocusedAsync();

        await ada.Prompts.First.Control("Next prompt").ClickAsync();

        await Expect(bob.Prompts.First.Body()).ToHaveTextAsync("What is a silo?");
        await Expect(bob.Prompts.First.Version()).ToHaveTextAsync("2/2");
        Assert.Equal(secondReply, await bob.FinalTextAsync(bob.Replies.Last));
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Regenerate_streams_the_new_reply_in_both_tabs_and_keeps_the_old_one_as_version_1()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Regenerate");
        await ada.SendAsync("Tell me about activations.");
        var oldReply = await bob.FinalTextAsync(bob.Replies.Last);

        await bob.Replies.Last.Control("Regenerate").ClickAsync();

        foreach (var tab in new[] { ada, bob })
        {
            await Expect(tab.StreamingReplyWithText).ToBeVisibleAsync();
            await Expect(tab.Replies.Last.Version()).ToHaveTextAsync("2/2");
        }
        var newReply = await ada.FinalTextAsync(ada.Replies.Last);
        Assert.Equal(newReply, await bob.FinalTextAsync(bob.Replies.Last));
        Assert.NotEqual(oldReply, newReply);
        await Expect(ada.Replies).ToHaveCountAsync(1);
        await Expect(ada.Prompts).ToHaveCountAsync(1);

        await ada.Replies.Last.Control("Previous reply").ClickAsync();

        foreach (var tab in new[] { ada, bob })
        {
            await Expect(tab.Replies.Last.Version()).ToHaveTextAsync("1/2");
            Assert.Equal(oldReply, await tab.FinalTextAsync(tab.Replies.Last));
        }
        AssertNoPageReportedAnError();
    }

    [Fact]
    public async Task Fork_opens_a_new_conversation_of_ones_own_with_the_messages_up_to_there()
    {
        var (ada, bob) = await AdaInvitesBobAsync("Original");
        await ada.SendAsync("First question");
        var firstReply = await ada.FinalTextAsync(ada.Replies.Last);
        await ada.SendAsync("Second question");
        await ada.FinalTextAsync(ada.Replies.Last);
        var original = ada.ConversationId;

        await bob.Replies.First.Control("Fork").ClickAsync();

        await Expect(bob.Title).ToHaveTextAsync("Original (fork)");
        Assert.NotEqual(original, bob.ConversationId);
        await Expect(bob.Prompts).ToHaveCountAsync(1);
        await Expect(bob.Prompts.First.Body()).ToHaveTextAsync("First question");
        Assert.Equal(firstReply, await bob.FinalTextAsync(bob.Replies.Last));
        await Expect(bob.MemberNames).ToHaveTextAsync(["Bob"]);
        await Expect(bob.Sidebar("Original (fork)")).ToHaveAttributeAsync("aria-current", "page");
        await Expect(bob.Sidebar("Original")).ToBeVisibleAsync();
        // The fork is Bob's alone; the original goes on as it was.
        await Expect(ada.Sidebar("Original (fork)")).ToHaveCountAsync(0);
        await Expect(ada.Prompts).ToHaveCountAsync(2);
        AssertNoPageReportedAnError();
    }
}
