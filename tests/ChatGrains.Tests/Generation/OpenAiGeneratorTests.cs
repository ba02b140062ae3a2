using System.Diagnostics;
using ChatGrains.Conversation;
using ChatGrains.Generation;
using ChatGrains.Tests.Generation.Fakes;
using static ChatGrains.Tests.Generation.Fakes.GeneratorHarness;

namespace ChatGrains.Tests.Generation;

/// <summary>
/// The OpenAI provider, through Microsoft.Extensions.AI.OpenAI and the real HttpClient stack,
/// against a fake OpenAI-compatible server on loopback.
/// </summary>
[Trait("Category", TestCategory.Unit)]
public sealed class OpenAiGeneratorTests : IAsyncLifetime
{
    private readonly FakeOpenAiServer _server = new();
    private GeneratorHarness _harness = null!;

    public Task InitializeAsync()
    {
        _harness = GeneratorHarness.OpenAI(_server);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Streamed_tokens_become_the_reply_in_order_with_the_reported_usage()
    {
        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(string.Concat(_server.DefaultTokens), text);
        Assert.Equal(new ReplyOutcome(MessageStatus.Complete, null, new Usage(FakeOpenAiServer.PromptTokens, _server.DefaultTokens.Length)), outcome);
        Assert.Equal("fake-model", _server.LastRequest.Body["model"]!.GetValue<string>());
        Assert.True(_server.LastRequest.Body["stream"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Request_carries_the_system_prompt_and_the_author_labelled_history_trimmed_to_the_budget()
    {
        await using var harness = GeneratorHarness.OpenAI(_server, ("Generator:SystemPrompt", "Be brief."), ("Generator:MaxContextTokens", "60"));
        var history = new[]
        {
            Prompt("Ada", "An old question that no longer fits in the budget, with plenty of words in it to cost tokens."),
            Reply("An old answer."),
            Prompt("Ada", "What is a grain?"),
            Reply("A virtual actor."),
            Reply("A cancelled reply is not shown.", MessageStatus.Cancelled),
            Prompt("Bob", "And a silo?"),
        };

        await harness.ReplyAsync(history);

        Assert.Equal(
            [("system", "Be brief."), ("user", "[Ada] What is a grain?"), ("assistant", "A virtual actor."), ("user", "[Bob] And a silo?")],
            _server.LastRequest.Messages);
        // The names travel in the text only: OpenAI refuses most display names in its "name" field.
        Assert.All(_server.LastRequest.Body["messages"]!.AsArray(), m => Assert.Null(m!["name"]));
    }

    [Fact]
    public async Task Stopping_the_reply_closes_the_upstream_connection()
    {
        _server.TokenInterval = TimeSpan.FromMilliseconds(50);
        _server.Then(new Answer.Stream([.. Enumerable.Range(0, 400).Select(i => $" t{i}")]));
        using var stop = new CancellationTokenSource();
        var buffer = new ReplyBuffer();

        var reply = _harness.ReplyAsync([Prompt("Ada", "Talk for a long time")], buffer, stop.Token);
        await Until(() => _server.Requests.Count == 1 && _server.LastRequest.TokensSent >= 3, "three tokens were sent");
        stop.Cancel();
        var (_, outcome) = await reply.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(MessageStatus.Cancelled, outcome.Status);
        await _server.LastRequest.Aborted.WaitAsync(TimeSpan.FromSeconds(5));
        var sent = _server.LastRequest.TokensSent;
        await Task.Delay(300);
        Assert.Equal(sent, _server.LastRequest.TokensSent);
    }

    [Fact]
    public async Task Server_error_before_the_first_token_is_retried()
    {
        _server.Then(new Answer.Fail(500)).Then(new Answer.Fail(503));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Complete, outcome.Status);
        Assert.Equal(string.Concat(_server.DefaultTokens), text);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task Too_many_requests_waits_for_retry_after()
    {
        _server.Then(new Answer.Fail(429, RetryAfter: TimeSpan.FromSeconds(1)));

        var (_, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Complete, outcome.Status);
        var requests = _server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.True(requests[1].ReceivedAt - requests[0].ReceivedAt >= TimeSpan.FromSeconds(0.95),
            $"the retry came {(requests[1].ReceivedAt - requests[0].ReceivedAt).TotalMilliseconds} ms after the 429");
    }

    [Fact]
    public async Task Retry_after_longer_than_the_idle_timeout_fails_at_once_and_says_why()
    {
        _server.Then(new Answer.Fail(429, RetryAfter: TimeSpan.FromSeconds(60), Message: "Slow down"));

        var watch = Stopwatch.StartNew();
        var (_, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Contains("rate limiting requests (429 Too Many Requests)", outcome.Error);
        Assert.Single(_server.Requests);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "it should not wait the 60 s the server asked for");
    }

    [Fact]
    public async Task Endpoint_that_keeps_failing_is_tried_up_to_the_retry_limit()
    {
        for (var i = 0; i < 10; i++) _server.Then(new Answer.Fail(503, Message: "overloaded"));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(4, _server.Requests.Count); // the first try and Generator:MaxRetries (3) more
        Assert.Equal("", text);
        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.StartsWith($"The model at {_server.Endpoint.TrimEnd('/')} failed with 503 Service Unavailable, after 4 attempts", outcome.Error);
        Assert.Contains("overloaded", outcome.Error);
        Assert.Null(outcome.Usage);
    }

    [Fact]
    public async Task Dead_endpoint_fails_with_a_clear_error_after_the_retry_limit()
    {
        var endpoint = $"http://127.0.0.1:{Infrastructure.FreePort.Next()}/v1";
        await using var harness = new GeneratorHarness(new Dictionary<string, string?>
        {
            ["Generator:Provider"] = "OpenAI",
            ["Generator:Endpoint"] = endpoint,
        });

        var (_, outcome) = await harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.StartsWith($"Could not reach the model at {endpoint} (Connection refused", outcome.Error);
        Assert.EndsWith("after 4 attempts.", outcome.Error);
        Assert.Equal(3, harness.Logs.Lines.Count(l => l.Contains("OnRetry")));
    }

    [Fact]
    public async Task Connection_dropped_mid_reply_ends_failed_with_the_partial_text_and_is_not_retried()
    {
        _server.Then(new Answer.Stream(["One", " two", " three", " four", " five"], DropAfter: 3));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Count")]);

        Assert.Equal("One two three", text);
        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Equal("The connection to the model was lost mid-reply; the reply keeps the text so far.", outcome.Error);
        Assert.Single(_server.Requests);
        Assert.NotNull(outcome.Usage);
    }

    [Fact]
    public async Task Model_silent_mid_reply_ends_failed_after_the_idle_timeout()
    {
        await using var harness = GeneratorHarness.OpenAI(_server, ("Generator:IdleTimeout", "00:00:03"));
        await harness.ReplyAsync([Prompt("Ada", "Warm up")]); // a cold first request can take longer than the timeout
        _server.Then(new Answer.Stream(["Thinking", " hard", " about"], StallAfter: 2));

        var watch = Stopwatch.StartNew();
        var (text, outcome) = await harness.ReplyAsync([Prompt("Ada", "Think")]);

        Assert.Equal("Thinking hard", text);
        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Equal("The model stopped sending tokens: nothing for 3 s, so the reply was ended with the text so far.", outcome.Error);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(10));
        await _server.LastRequest.Aborted.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Usage_is_counted_when_the_server_does_not_report_it()
    {
        _server.Then(new Answer.Stream(["Grains", " are", " virtual", " actors", "."], ReportUsage: false));
        var history = new[] { Prompt("Ada", "What are grains?") };

        var (_, outcome) = await _harness.ReplyAsync(history);

        var window = new ChatContext(GeneratorOptions.DefaultSystemPrompt, 8000).Build(history);
        Assert.Equal(new Usage(window.Tokens, TokenCounter.Count("Grains are virtual actors.")), outcome.Usage);
    }

    [Fact]
    public async Task Api_key_is_sent_but_never_logged_or_shown()
    {
        const string key = "sk-test-ThisIsTheSecret0123456789";
        await using var harness = GeneratorHarness.OpenAI(_server, ("Generator:ApiKey", key));
        _server.Then(new Answer.Fail(500, EchoAuthorization: true)).Then(new Answer.Stream(["ok"]));
        _server.Then(new Answer.Fail(401, EchoAuthorization: true));
        _server.Then(new Answer.Fail(400, EchoAuthorization: true));

        var (_, retried) = await harness.ReplyAsync([Prompt("Ada", "Hi!")]);
        var (_, refused) = await harness.ReplyAsync([Prompt("Ada", "Hi!")]);
        var (_, rejected) = await harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.All(_server.Requests, r => Assert.Equal($"Bearer {key}", r.Authorization));
        Assert.Equal(MessageStatus.Complete, retried.Status);
        Assert.StartsWith("The model at", refused.Error);
        Assert.Contains("refused the credentials (401 Unauthorized)", refused.Error);
        Assert.Contains("Bad credentials: Bearer [redacted]", rejected.Error);
        Assert.DoesNotContain("ThisIsTheSecret", refused.Error + rejected.Error);
        Assert.NotEmpty(harness.Logs.Lines);
        Assert.All(harness.Logs.Lines, line => Assert.DoesNotContain("ThisIsTheSecret", line));
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting until {what}.");
            await Task.Delay(10);
        }
    }
}
