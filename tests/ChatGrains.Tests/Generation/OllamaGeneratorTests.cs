using ChatGrains.Conversation;
using ChatGrains.Tests.Generation.Fakes;
using static ChatGrains.Tests.Generation.Fakes.GeneratorHarness;

namespace ChatGrains.Tests.Generation;

/// <summary>The Ollama provider, through OllamaSharp and the real HttpClient stack, against a fake Ollama on loopback.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class OllamaGeneratorTests : IAsyncLifetime
{
    private readonly FakeOllamaServer _server = new();
    private GeneratorHarness _harness = null!;

    public Task InitializeAsync()
    {
        _harness = GeneratorHarness.Ollama(_server, ("Generator:SystemPrompt", "You are terse."));
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
        Assert.Equal(new ReplyOutcome(MessageStatus.Complete, null, new Usage(FakeOllamaServer.PromptTokens, _server.DefaultTokens.Length)), outcome);
        Assert.Equal("fake-model", _server.LastRequest.Body["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task Request_carries_the_system_prompt_and_the_author_labelled_history()
    {
        await _harness.ReplyAsync([Prompt("Ada", "What is a grain?"), Reply("A virtual actor."), Prompt("Bob", "And a silo?")]);

        Assert.Equal(
            [("system", "You are terse."), ("user", "[Ada] What is a grain?"), ("assistant", "A virtual actor."), ("user", "[Bob] And a silo?")],
            _server.LastRequest.Messages);
    }

    [Fact]
    public async Task Stopping_the_reply_closes_the_upstream_connection()
    {
        _server.TokenInterval = TimeSpan.FromMilliseconds(50);
        _server.Then(new Answer.Stream([.. Enumerable.Range(0, 400).Select(i => $" t{i}")]));
        using var stop = new CancellationTokenSource();

        var reply = _harness.ReplyAsync([Prompt("Ada", "Talk for a long time")], cancellationToken: stop.Token);
        while (_server.Requests.IsEmpty || _server.LastRequest.TokensSent < 3) await Task.Delay(10);
        stop.Cancel();
        var (_, outcome) = await reply.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(MessageStatus.Cancelled, outcome.Status);
        await _server.LastRequest.Aborted.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Server_error_before_the_first_token_is_retried()
    {
        _server.Then(new Answer.Fail(500));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Complete, outcome.Status);
        Assert.Equal(string.Concat(_server.DefaultTokens), text);
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task Connection_dropped_mid_reply_ends_failed_with_the_partial_text()
    {
        _server.Then(new Answer.Stream(["One", " two", " three", " four"], DropAfter: 2));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Count")]);

        Assert.Equal("One two", text);
        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Equal("The connection to the model was lost mid-reply; the reply keeps the text so far.", outcome.Error);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task A_stream_that_ends_without_its_done_line_fails_with_the_partial_text()
    {
        _server.Then(new Answer.Stream(["One", " two", " three"], EndAfter: 2));

        var (text, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Count")]);

        Assert.Equal("One two", text);
        Assert.Equal(new ReplyOutcome(MessageStatus.Failed, "The model's stream ended before the reply was finished; the reply keeps the text so far.", outcome.Usage), outcome);
    }

    [Fact]
    public async Task Model_that_never_starts_answering_fails_after_the_idle_timeout()
    {
        await using var harness = GeneratorHarness.Ollama(_server, ("Generator:IdleTimeout", "00:00:03"), ("Generator:MaxRetries", "0"));
        await harness.ReplyAsync([Prompt("Ada", "Warm up")]); // a cold first request can take longer than the timeout
        _server.Then(new Answer.Stream(["never"], StallAfter: 0));

        var (text, outcome) = await harness.ReplyAsync([Prompt("Ada", "Hello?")]);

        Assert.Equal("", text);
        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Equal($"The model at {_server.Endpoint.TrimEnd('/')} did not start answering within 3 s.", outcome.Error);
        Assert.Null(outcome.Usage);
        Assert.Equal(2, _server.Requests.Count);
        await _server.LastRequest.Aborted.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Unknown_model_fails_with_a_hint_at_the_settings()
    {
        _server.Then(new Answer.Fail(404, Message: "model 'fake-model' not found"));

        var (_, outcome) = await _harness.ReplyAsync([Prompt("Ada", "Hi!")]);

        Assert.Equal(MessageStatus.Failed, outcome.Status);
        Assert.Contains("404 Not Found; check Generator:Endpoint and Generator:Model", outcome.Error);
        Assert.Single(_server.Requests);
    }
}
