using static Microsoft.Playwright.Assertions;

namespace ChatGrains.Tests.Web;

/// <summary>A budget of one token a day: the first reply uses it up, and the next prompt is refused.</summary>
public sealed class OneTokenBudgetWebFixture : WebFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Limits:TokensPerUserPerDay"] = "1",
    };
}

/// <summary>Over the daily token budget, the page says so and when it resets, on the reader's own clock, and keeps what was typed.</summary>
[Trait("Category", TestCategory.Web)]
[Collection(BrowserTests.Name)]
public sealed class BudgetPageTests(OneTokenBudgetWebFixture web) : PageTest(web), IClassFixture<OneTokenBudgetWebFixture>
{
    [Fact]
    public async Task Over_the_budget_a_prompt_and_a_regenerate_are_refused_with_the_local_reset_time_and_the_typed_text_stays()
    {
        // India is 5:30 ahead of UTC, so the budget's reset at UTC midnight reads 05:30 there.
        var ada = await OpenAsync(await NewBrowserAsync(timezoneId: "Asia/Kolkata", locale: "en-GB"));
        await ada.SignInAsync("Ada");
        await ada.StartConversationAsync("Thrifty");
        await ada.SendAsync("Spend my budget");
        await ada.FinalTextAsync(ada.Replies.Last);

        await ada.MessageBox.FillAsync("One more, please");
        await ada.MessageBox.PressAsync("Enter");

        await Expect(ada.Alert).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(
            @"^Your message was not sent\. You have used today's token budget\. It resets (tomorrow )?at 05:30 \(your time\)\.$"));
        await Expect(ada.MessageBox).ToHaveValueAsync("One more, please");
        await Expect(ada.Prompts).ToHaveCountAsync(1);

        await ada.Replies.Last.Control("Regenerate").ClickAsync();

        await Expect(ada.Alert).ToContainTextAsync("Your request for a new reply was not sent. You have used today's token budget.");
        await Expect(ada.Alert).ToContainTextAsync("05:30 (your time)");
        await Expect(ada.Replies.Last.Switcher()).ToHaveCountAsync(0);
        await Expect(ada.MessageBox).ToHaveValueAsync("One more, please");

        // An edit is a prompt too: refused the same way, and its editor stays open with the new text.
        await ada.Prompts.Last.Control("Edit").ClickAsync();
        var editor = ada.Prompts.Last.GetByRole(Microsoft.Playwright.AriaRole.Textbox, new() { Name = "Edit your message" });
        await editor.FillAsync("Spend it differently");
        await ada.Prompts.Last.Control("Send edited message").ClickAsync();

        await Expect(ada.Alert).ToContainTextAsync("Your edit was not sent. You have used today's token budget.");
        await Expect(editor).ToHaveValueAsync("Spend it differently");
        await Expect(ada.Prompts).ToHaveCountAsync(1);
        await SaveScreenshotAsync(ada, "over-budget");
        AssertNoPageReportedAnError();
    }
}
