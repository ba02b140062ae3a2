using ChatGrains.Generation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace ChatGrains.Tests.Generation;

/// <summary>The embedded generator's answer to a regenerate: different from its siblings, the same every time.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class TreeRegenerateReplyTests
{
    private static async Task<string> AnswerAsync(string prompt, int sibling)
    {
        using var client = new EmbeddedChatClient(Options.Create(new GeneratorOptions { TokensPerSecond = 0 }));
        var options = sibling > 0 ? new ChatOptions { AdditionalProperties = new() { [EmbeddedChatClient.SiblingProperty] = sibling } } : null;
        return (await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], options)).Text;
    }

    [Fact]
    public async Task Each_sibling_of_a_reply_reads_differently_and_the_same_sibling_always_the_same()
    {
        var replies = new[] { await AnswerAsync("What is a grain?", 0), await AnswerAsync("What is a grain?", 1), await AnswerAsync("What is a grain?", 2) };

        Assert.Equal(3, replies.Distinct().Count());
        Assert.Equal(EmbeddedChatClient.ComposeReply("What is a grain?"), replies[0]);
        Assert.Equal(replies[1], await AnswerAsync("What is a grain?", 1));
        Assert.Equal(EmbeddedChatClient.ComposeRegenerate("What is a grain?", 2), replies[2]);
    }
}
