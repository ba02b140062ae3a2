using ChatGrains.Tests.Api;
using ChatGrains.Tests.Generation;
using ChatGrains.Tests.Generation.Fakes;

namespace ChatGrains.Tests.LongConversations;

/// <summary>The service answering from a fake OpenAI-compatible server, holding only 2 messages in memory.</summary>
public sealed class SmallWindowOpenAiFixture : OpenAiServiceFixture
{
    protected override IDictionary<string, string?> Settings =>
        new Dictionary<string, string?>(base.Settings) { ["Conversation:RecentMessages"] = "2" };
}

/// <summary>What the model is sent when the path it answers has left the grain's memory: exactly the path, read from the store.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class LongPathModelTests(SmallWindowOpenAiFixture fixture) : IClassFixture<SmallWindowOpenAiFixture>
{
    private readonly ApiServer _server = fixture.Server;
    private readonly FakeOpenAiServer _model = fixture.Model;

    [Fact]
    public async Task The_model_sees_the_whole_path_after_it_left_memory_and_a_regenerate_of_an_old_reply_only_its_own()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        _model.Then(new Answer.Stream(["A1"])).Then(new Answer.Stream(["A2"])).Then(new Answer.Stream(["A3"]))
            .Then(new Answer.Stream(["A4"])).Then(new Answer.Stream(["A1 again"]));
        List<Received> first;
        await using (var post = await ada.PostAsync(id, "one")) first = await post.ReadToEndAsync();
        await using (var post = await ada.PostAsync(id, "two")) await post.ReadToEndAsync();
        await using (var post = await ada.PostAsync(id, "three")) await post.ReadToEndAsync();

        await using (var post = await ada.PostAsync(id, "four")) await post.ReadToEndAsync();
        var fourth = _model.LastRequest.Messages;
        await using (var regenerate = await ada.RegenerateAsync(id, first[1].MessageId!)) await regenerate.ReadToEndAsync();
        var regenerated = _model.LastRequest.Messages;

        Assert.Equal(
            [("system", "You are ChatGrains."), ("user", "[Ada] one"), ("assistant", "A1"), ("user", "[Ada] two"), ("assistant", "A2"),
             ("user", "[Ada] three"), ("assistant", "A3"), ("user", "[Ada] four")],
            fourth);
        Assert.Equal([("system", "You are ChatGrains."), ("user", "[Ada] one")], regenerated);
    }
}
