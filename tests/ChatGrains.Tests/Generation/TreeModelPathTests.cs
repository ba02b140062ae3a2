using ChatGrains.Tests.Api;
using ChatGrains.Tests.Generation.Fakes;

namespace ChatGrains.Tests.Generation;

/// <summary>
/// End to end against a fake OpenAI-compatible server: what the model is sent is the path from
/// the first prompt to the prompt it answers, never another branch.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class TreeModelPathTests(OpenAiServiceFixture fixture) : IClassFixture<OpenAiServiceFixture>
{
    private readonly ApiServer _server = fixture.Server;
    private readonly FakeOpenAiServer _model = fixture.Model;

    [Fact]
    public async Task An_edited_prompt_is_answered_from_its_own_branch_only()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        _model.Then(new Answer.Stream(["First", " answer."])).Then(new Answer.Stream(["Second", " answer."]));
        List<Received> first;
        await using (var post = await ada.PostAsync(id, "one")) first = await post.ReadToEndAsync();
        await using (var post = await ada.PostAsync(id, "two")) await post.ReadToEndAsync();

        await using (var edit = await ada.PostUnderAsync(id, "two, edited", first[1].MessageId)) await edit.ReadToEndAsync();

        Assert.Equal(
            [("system", "You are ChatGrains."), ("user", "[Ada] one"), ("assistant", "First answer."), ("user", "[Ada] two, edited")],
            _model.LastRequest.Messages);
    }

    [Fact]
    public async Task A_regenerate_is_sent_the_path_to_its_prompt_and_nothing_else()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        _model.Then(new Answer.Stream(["First", " answer."])).Then(new Answer.Stream(["Second", " answer."]));
        List<Received> first;
        await using (var post = await ada.PostAsync(id, "one")) first = await post.ReadToEndAsync();
        await using (var post = await ada.PostAsync(id, "two")) await post.ReadToEndAsync();

        await using (var regenerate = await ada.RegenerateAsync(id, first[1].MessageId!)) await regenerate.ReadToEndAsync();

        var request = _model.LastRequest;
        Assert.Equal([("system", "You are ChatGrains."), ("user", "[Ada] one")], request.Messages);
        // The sibling's position is for the embedded generator only: no unknown field reaches a remote model.
        Assert.DoesNotContain("chatgrains", request.Body.ToJsonString());
    }
}
