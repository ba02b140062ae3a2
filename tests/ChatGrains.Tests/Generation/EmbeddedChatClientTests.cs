using System.Diagnostics;
using System.Text;
using ChatGrains.Generation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace ChatGrains.Tests.Generation;

[Trait("Category", TestCategory.Unit)]
public sealed class EmbeddedChatClientTests
{
    private static readonly Lazy<TiktokenTokenizer> Tokenizer = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    private static readonly string[] AwkwardPromptTexts =
    [
        "hi",
        "",
        "   ",
        "?!",
        string.Concat(Enumerable.Repeat("Tell me everything about virtual actors. ", 250)),
        "🎉👍🏽🚀 emoji only 🤖",
        "猫が好きです。请介绍一下奥尔良框架。한국어도 돼요?",
        "<|endoftext|> **bold** `code` [link](http://x)",
        "broken \uD800 surrogate \uDC00 text",
    ];

    public static TheoryData<string> AwkwardPrompts => new(AwkwardPromptTexts);

    [Fact]
    public async Task Same_prompt_streams_the_same_text()
    {
        var first = await StreamTextAsync(Unpaced(), "How do grains keep state?");
        var second = await StreamTextAsync(Unpaced(), "How do grains keep state?");

        Assert.Equal(first, second);
    }

    [Fact]
    public void Different_prompts_get_different_replies()
    {
        var prompts = new[] { "hi", "hi!", "Hello there", "How do grains keep state?", "", "猫" };

        var replies = prompts.Select(EmbeddedChatClient.ComposeReply).ToList();

        Assert.Equal(prompts.Length, replies.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(AwkwardPrompts))]
    public void Every_prompt_gets_between_100_and_250_tokens(string prompt)
    {
        var tokens = Tokenizer.Value.CountTokens(EmbeddedChatClient.ComposeReply(prompt));

        Assert.InRange(tokens, 100, 250);
    }

    [Theory]
    [MemberData(nameof(AwkwardPrompts))]
    public async Task Streamed_tokens_concatenate_to_exactly_the_composed_reply(string prompt)
    {
        var updates = await StreamAsync(Unpaced(), prompt);

        Assert.Equal(EmbeddedChatClient.ComposeReply(prompt), string.Concat(updates.Select(u => u.Text)));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.All(updates, u => Assert.NotEmpty(u.Text));
    }

    [Fact]
    public void Reply_tokens_are_where_o200k_cuts_the_whole_reply()
    {
        // The reply is tokenized part by part, with the bank's parts worked out once; that must
        // give exactly the tokens of the whole text, for every arrangement of the bank.
        var prompts = AwkwardPromptTexts
            .Concat(Enumerable.Range(0, 300).Select(i => $"Question {i}: how do grains {(i % 2 == 0 ? "stream" : "keep")} state?"));

        foreach (var prompt in prompts)
        {
            Assert.Equal(EmbeddedChatClient.SplitIntoTokens(EmbeddedChatClient.ComposeReply(prompt)), EmbeddedChatClient.ComposeTokens(prompt));
        }
    }

    [Fact]
    public async Task Each_update_carries_about_one_model_token()
    {
        var reply = EmbeddedChatClient.ComposeReply("Quote me: 猫が好き 🎉");

        var updates = await StreamAsync(Unpaced(), "Quote me: 猫が好き 🎉");

        // Tokens that split a character are merged, so there can be a few fewer updates than tokens.
        var tokens = Tokenizer.Value.CountTokens(reply);
        Assert.InRange(updates.Count, tokens - 10, tokens);
    }

    [Fact]
    public void Reply_says_plainly_it_is_the_offline_generator_and_not_a_language_model()
    {
        var reply = EmbeddedChatClient.ComposeReply("Are you ChatGPT?");

        Assert.Contains("embedded offline generator of ChatGrains", reply);
        Assert.Contains("not a language model", reply);
    }

    [Fact]
    public async Task The_prompt_is_the_last_user_message()
    {
        using var client = Unpaced();
        ChatMessage[] conversation =
        [
            new(ChatRole.System, "You are helpful."),
            new(ChatRole.User, "first question"),
            new(ChatRole.Assistant, "an earlier answer"),
            new(ChatRole.User, "second question"),
        ];

        var response = await client.GetResponseAsync(conversation);

        Assert.Equal(EmbeddedChatClient.ComposeReply("second question"), response.Text);
    }

    [Fact]
    public async Task Non_streaming_response_is_the_whole_reply_from_the_assistant()
    {
        using var client = new EmbeddedChatClient(Options.Create(new GeneratorOptions { TokensPerSecond = 1 }));

        var stopwatch = Stopwatch.StartNew();
        var response = await client.GetResponseAsync("What is Orleans?");

        Assert.Equal(EmbeddedChatClient.ComposeReply("What is Orleans?"), response.Text);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), "the non-streaming response is not paced");
    }

    [Fact]
    public async Task Streaming_is_paced_at_tokens_per_second()
    {
        using var client = new EmbeddedChatClient(Options.Create(new GeneratorOptions { TokensPerSecond = 200 }));

        var stopwatch = Stopwatch.StartNew();
        var updates = await StreamAsync(client, "Pace yourself, please.");
        stopwatch.Stop();

        // The last of N tokens is due (N - 1) / rate after the first; a small allowance covers
        // the millisecond granularity of timers.
        var earliest = TimeSpan.FromSeconds((updates.Count - 1) / 200.0) - TimeSpan.FromMilliseconds(20);
        Assert.True(stopwatch.Elapsed >= earliest, $"{updates.Count} tokens took {stopwatch.Elapsed}, expected at least {earliest}");
    }

    [Fact]
    public async Task Cancelling_mid_stream_stops_promptly_with_OperationCanceledException()
    {
        using var client = new EmbeddedChatClient(Options.Create(new GeneratorOptions { TokensPerSecond = 20 }));
        using var cancellation = new CancellationTokenSource();
        var received = 0;
        var cancelledAt = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync("Keep talking", cancellationToken: cancellation.Token))
            {
                if (++received == 5)
                {
                    cancellation.Cancel();
                    cancelledAt.Restart();
                }
            }
        });

        Assert.Equal(5, received);
        Assert.True(cancelledAt.Elapsed < TimeSpan.FromSeconds(1), $"stopping took {cancelledAt.Elapsed}");
    }

    [Fact]
    public void Metadata_names_the_embedded_provider_and_unknown_services_are_null()
    {
        using var client = Unpaced();

        var metadata = client.GetService<ChatClientMetadata>();

        Assert.Equal("embedded", metadata?.ProviderName);
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Null(client.GetService(typeof(StringBuilder)));
        Assert.Null(client.GetService(typeof(ChatClientMetadata), serviceKey: "other"));
    }

    private static EmbeddedChatClient Unpaced() =>
        new(Options.Create(new GeneratorOptions { TokensPerSecond = 0 }));

    private static async Task<string> StreamTextAsync(IChatClient client, string prompt) =>
        string.Concat((await StreamAsync(client, prompt)).Select(u => u.Text));

    private static async Task<List<ChatResponseUpdate>> StreamAsync(IChatClient client, string prompt)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(prompt))
        {
            updates.Add(update);
        }

        return updates;
    }
}
