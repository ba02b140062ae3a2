using System.Net;
using ChatGrains.Tests.Api;
using ChatGrains.Tests.Generation.Fakes;

namespace ChatGrains.Tests.Generation;

/// <summary>The real service pointed at a fake OpenAI-compatible server (Generator:Provider=OpenAI).</summary>
public class OpenAiServiceFixture : ApiServerFixture
{
    // Initialized before the base constructor starts the service with Settings.
    public FakeOpenAiServer Model { get; } = new() { TokenInterval = TimeSpan.FromMilliseconds(20) };

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:Provider"] = "OpenAI",
        ["Generator:Endpoint"] = Model.Endpoint,
        ["Generator:Model"] = "gpt-fake",
        ["Generator:ApiKey"] = "sk-e2e-secret-key-000",
        ["Generator:SystemPrompt"] = "You are ChatGrains.",
        ["Generator:RetryDelay"] = "00:00:00.050",
    };
}

/// <summary>
/// End to end: a prompt posted over HTTP is answered by the remote model, token by token, and
/// the reply, its usage and the history the model is shown are what a user would expect.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class RemoteModelServiceTests(OpenAiServiceFixture fixture) : IClassFixture<OpenAiServiceFixture>
{
    private readonly ApiServer _server = fixture.Server;
    private readonly FakeOpenAiServer _model = fixture.Model;

    [Fact]
    public async Task A_prompt_streams_the_models_tokens_and_completes_with_its_usage()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        _model.Then(new Answer.Stream(["Grains", " are", " virtual", " actors", "."]));

        await using var post = await ada.PostAsync(id, "What are grains?");
        var events = await post.ReadToEndAsync();

        var completed = events.Last();
        Assert.Equal("message.completed", completed.Type);
        Assert.Equal("complete", completed.Status);
        Assert.Equal("Grains are virtual actors.", string.Concat(events.Select(e => e.Delta)));
        Assert.Equal("Grains are virtual actors.", completed.Data.GetProperty("content").GetString());
        var usage = completed.Data.GetProperty("usage");
        Assert.Equal(FakeOpenAiServer.PromptTokens, usage.GetProperty("promptTokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("completionTokens").GetInt32());

        var reply = (await ada.SnapshotAsync(id)).GetProperty("messages").EnumerateArray().Last();
        Assert.Equal("Grains are virtual actors.", reply.GetProperty("content").GetString());
        Assert.Equal(usage.GetRawText(), reply.GetProperty("usage").GetRawText());
        Assert.False((await ada.SnapshotAsync(id)).GetProperty("messages")[0].TryGetProperty("usage", out _), "a prompt has no usage");
    }

    [Fact]
    public async Task The_model_is_shown_the_system_prompt_and_who_said_what()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        _model.Then(new Answer.Stream(["A", " virtual", " actor."]));
        await using (var first = await ada.PostAsync(id, "What is a grain?")) await first.ReadToEndAsync();

        await using (var second = await bob.PostAsync(id, "And a silo?")) await second.ReadToEndAsync();

        Assert.Equal(
            [("system", "You are ChatGrains."), ("user", "[Ada] What is a grain?"), ("assistant", "A virtual actor."), ("user", "[Bob] And a silo?")],
            _model.LastRequest.Messages);
    }

    [Fact]
    public async Task Stop_ends_the_reply_cancelled_for_everyone_and_closes_the_models_connection()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        _model.Then(new Answer.Stream([.. Enumerable.Range(0, 2000).Select(i => $" w{i}")]));
        await using var watch = await ada.WatchAsync(id, lastEventId: 0);
        var posted = await ada.PostAcceptedAsync(id, "Talk for a long time");
        var replyId = posted.GetProperty("assistantMessageId").GetString()!;
        var deltas = 0;
        await watch.ReadUntilAsync(e => e.Type == "message.delta" && ++deltas == 3);
        var request = _model.LastRequest;

        Assert.Equal(HttpStatusCode.Accepted, (await ada.CancelAsync(id, replyId)).StatusCode);
        var completed = await watch.ReadUntilAsync(e => e.Type == "message.completed");

        Assert.Equal("cancelled", completed.Status);
        await request.Aborted.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(request.TokensSent < 2000);
        var streamed = string.Concat(watch.Events.Select(e => e.Delta));
        Assert.Equal(streamed, completed.Data.GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_model_that_keeps_failing_ends_the_reply_failed_with_a_clear_error_and_no_key()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        for (var i = 0; i < 4; i++) _model.Then(new Answer.Fail(502, EchoAuthorization: true));

        await using var post = await ada.PostAsync(id, "Hello?");
        var completed = (await post.ReadToEndAsync()).Last();

        Assert.Equal("failed", completed.Status);
        var error = completed.Data.GetProperty("error").GetString()!;
        Assert.StartsWith("The model at", error);
        Assert.Contains("failed with 502 Bad Gateway, after 4 attempts", error);
        Assert.DoesNotContain("sk-e2e-secret", error);
        Assert.False(completed.Data.TryGetProperty("usage", out _), "a request that was never answered has no usage");
    }
}
