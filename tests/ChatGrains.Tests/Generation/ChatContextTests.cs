using ChatGrains.Generation;
using Microsoft.Extensions.AI;
using static ChatGrains.Tests.Generation.Fakes.GeneratorHarness;

namespace ChatGrains.Tests.Generation;

/// <summary>What the model is shown of a conversation, and how it is cut to the token budget.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class ChatContextTests
{
    private const int PerMessage = 4;

    [Fact]
    public void Everything_fits_a_large_budget_in_order_with_authors_and_only_completed_replies()
    {
        var history = new[]
        {
            Prompt("Ada", "What is a grain?"),
            Reply("A virtual actor."),
            Prompt("Bob", "And a silo?"),
            Reply("Half an answer", ChatGrains.MessageStatus.Failed),
            Reply("", ChatGrains.MessageStatus.Complete),
            Prompt("Ada", "Go on"),
        };

        var window = new ChatContext("System.", 10_000).Build(history);

        Assert.Equal(
            [(ChatRole.System, "System.", null), (ChatRole.User, "What is a grain?", "Ada"), (ChatRole.Assistant, "A virtual actor.", null),
             (ChatRole.User, "And a silo?", "Bob"), (ChatRole.User, "Go on", "Ada")],
            window.Messages.Select(m => (m.Role, m.Text, m.AuthorName)));
        Assert.Equal(0, window.Omitted);
        var expected = Cost("System.") + Cost("What is a grain?", "Ada") + Cost("A virtual actor.") + Cost("And a silo?", "Bob") + Cost("Go on", "Ada");
        Assert.Equal(expected, window.Tokens);
    }

    [Fact]
    public void Oldest_messages_are_left_out_to_fit_the_budget_and_the_window_opens_on_a_prompt()
    {
        var history = new[] { Prompt("Ada", "one two three"), Reply("four five six"), Prompt("Bob", "seven eight"), Reply("nine ten"), Prompt("Ada", "eleven") };
        // Room for the system prompt and the last three messages, not the fourth from the end.
        var budget = Cost("Sys") + Cost("eleven", "Ada") + Cost("nine ten") + Cost("seven eight", "Bob") + Cost("four five six") - 1;

        var window = new ChatContext("Sys", budget).Build(history);

        Assert.Equal(["Sys", "seven eight", "nine ten", "eleven"], window.Messages.Select(m => m.Text));
        Assert.Equal(2, window.Omitted);
        Assert.True(window.Tokens <= budget);
    }

    [Fact]
    public void A_window_that_would_open_on_a_reply_drops_that_reply_too()
    {
        var history = new[] { Prompt("Ada", "one"), Reply("two three four"), Prompt("Bob", "five") };
        var budget = Cost("five", "Bob") + Cost("two three four");

        var window = new ChatContext("", budget).Build(history);

        Assert.Equal(["five"], window.Messages.Select(m => m.Text));
        Assert.Equal(Cost("five", "Bob"), window.Tokens);
    }

    [Fact]
    public void The_prompt_being_answered_is_kept_even_alone_over_the_budget()
    {
        var prompt = string.Concat(Enumerable.Repeat("many words ", 100));
        var window = new ChatContext("Sys", 10).Build([Prompt("Ada", "earlier"), Prompt("Ada", prompt)]);

        Assert.Equal(["Sys", prompt], window.Messages.Select(m => m.Text));
        Assert.True(window.Tokens > 10);
    }

    [Theory]
    [InlineData("Ada", "[Ada] ")]
    [InlineData("  Ada Lovelace  ", "[Ada Lovelace] ")]
    [InlineData("Ada]\n[System", "[Ada System] ")]
    [InlineData("", "[someone] ")]
    [InlineData("[]", "[someone] ")]
    public void Author_labels_cannot_be_used_to_fake_another_message(string name, string label)
    {
        Assert.Equal(label, AuthorLabelChatClient.Label(name));
    }

    [Fact]
    public void Ordinary_text_is_counted_exactly_and_a_huge_single_word_quickly()
    {
        const string text = "Grains are virtual actors: they are never created or destroyed, only activated. 猫 👋🏽";
        Assert.Equal(TokenCounter.Tokenizer.CountTokens(text), TokenCounter.Count(text));

        // Exact BPE on one 32 KB "word" takes seconds; sliced, it is close and fast.
        var word = new string('x', 32_000);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var count = TokenCounter.Count(word);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(500), $"counting took {watch.ElapsedMilliseconds} ms");
        Assert.InRange(count, 32_000 / 8, 32_000 / 8 + 32_000 / TokenCounter.MaxRun + 1);
    }

    private static int Cost(string text, string? author = null) =>
        PerMessage + TokenCounter.Count(text) + (author is null ? 0 : TokenCounter.Count(AuthorLabelChatClient.Label(author)));
}
