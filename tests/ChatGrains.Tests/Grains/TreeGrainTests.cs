using System.Text.Json;
using ChatGrains.Generation;
using ChatGrains.Tests.Infrastructure;

using static ChatGrains.Tests.Grains.ConversationGrainTests;

namespace ChatGrains.Tests.Grains;

/// <summary>Branches, regenerate, the shared head and fork, on a two-silo cluster.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class TreeGrainTests(ConversationCluster cluster) : IClassFixture<ConversationCluster>
{
    private static readonly Caller Ada = new("ada", "Ada");
    private static readonly Caller Bob = new("bob", "Bob");

    private async Task<(string Id, IConversationGrain Grain)> NewConversationAsync(string title = "Tree")
    {
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(Ada, title);
        return (id, grain);
    }

    private Task<List<ConversationEvent>> CompletionsAsync(string id, int count) =>
        Eventually.Until(() => cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= count, TimeSpan.FromSeconds(60), $"{count} replies complete");

    private static async Task<ConversationErrorKind> RefusalAsync(Func<Task> call) => (await Assert.ThrowsAsync<ConversationException>(call)).Kind;

    private static Message Find(ConversationSnapshot s, string id) => s.Messages.Single(m => m.Id == id);

    private static IEnumerable<string> Heads(IEnumerable<ConversationEvent> log) => log
        .Where(e => e.Type == EventTypes.ConversationHead)
        .Select(e => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.ConversationHeadData)!.MessageId);

    [Fact]
    public async Task A_prompt_after_an_earlier_reply_starts_a_branch_and_the_head_follows_every_new_reply()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);
        var second = await grain.PostAsync(Ada, "second", null);
        await CompletionsAsync(id, 2);

        var edit = await grain.PostAsync(Ada, "second, edited", null, new PromptParent(first.AssistantMessageId));
        var log = await CompletionsAsync(id, 3);

        var snapshot = await grain.GetSnapshotAsync(Ada.UserId);
        Assert.Null(Find(snapshot, first.UserMessageId).ParentId);
        Assert.Equal(first.UserMessageId, Find(snapshot, first.AssistantMessageId).ParentId);
        Assert.Equal(first.AssistantMessageId, Find(snapshot, second.UserMessageId).ParentId);
        Assert.Equal(first.AssistantMessageId, Find(snapshot, edit.UserMessageId).ParentId);
        Assert.Equal(edit.UserMessageId, Find(snapshot, edit.AssistantMessageId).ParentId);
        Assert.Equal(edit.AssistantMessageId, snapshot.Head);
        Assert.Equal([first.AssistantMessageId, second.AssistantMessageId, edit.AssistantMessageId], Heads(log));
        AssertConsecutive(log);
    }

    [Fact]
    public async Task A_new_first_prompt_starts_a_tree_of_its_own()
    {
        var (id, grain) = await NewConversationAsync();
        await grain.PostAsync(Ada, "first", null);
        await CompletionsAsync(id, 1);

        var again = await grain.PostAsync(Ada, "start over", null, PromptParent.Root);

        var snapshot = await grain.GetSnapshotAsync(Ada.UserId);
        Assert.Null(Find(snapshot, again.UserMessageId).ParentId);
        Assert.Equal(again.AssistantMessageId, snapshot.Head);
    }

    [Fact]
    public async Task A_bad_parent_is_refused_before_anything_is_created()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);
        await CompletionsAsync(id, 1);
        var before = await cluster.LogAsync(id);

        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.PostAsync(Ada, "x", "k1", new PromptParent(first.UserMessageId))));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.PostAsync(Ada, "x", "k2", new PromptParent("nope"))));

        Assert.Equal(before.Count, (await cluster.LogAsync(id)).Count);
        // The refused keys were not spent.
        await grain.PostAsync(Ada, "x", "k1");
    }

    [Fact]
    public async Task Regenerate_while_another_reply_streams_is_queued_then_answered_differently_beside_the_original()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "tell me about grains", null);
        await CompletionsAsync(id, 1);
        var streaming = await grain.PostAsync(Ada, "and streams?", null);

        var regenerated = await grain.RegenerateAsync(Ada, first.AssistantMessageId, null);

        var queued = Find(await grain.GetSnapshotAsync(Ada.UserId), regenerated.AssistantMessageId);
        Assert.Equal(MessageStatus.Queued, queued.Status);
        Assert.Equal(first.UserMessageId, queued.ParentId);
        Assert.Equal(first.UserMessageId, queued.ReplyTo);
        var log = await CompletionsAsync(id, 3);
        var ends = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        Assert.Equal([first.AssistantMessageId, streaming.AssistantMessageId, regenerated.AssistantMessageId], ends.Select(c => c.MessageId));
        Assert.NotEqual(ends[0].Content, ends[2].Content);
        Assert.Equal(EmbeddedChatClient.ComposeRegenerate("tell me about grains", 1), ends[2].Content);
        var snapshot = await grain.GetSnapshotAsync(Ada.UserId);
        Assert.Equal(regenerated.AssistantMessageId, snapshot.Head);
        Assert.Equal(first.UserMessageId, regenerated.UserMessageId);
    }

    [Fact]
    public async Task Regenerate_refuses_a_prompt_an_unfinished_reply_an_unknown_message_and_a_stranger()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);

        Assert.Equal(ConversationErrorKind.Conflict, await RefusalAsync(() => grain.RegenerateAsync(Ada, first.AssistantMessageId, null)));
        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.RegenerateAsync(Ada, first.UserMessageId, null)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RegenerateAsync(Ada, "nope", null)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RegenerateAsync(Bob, first.AssistantMessageId, null)));
        await CompletionsAsync(id, 1);
    }

    [Fact]
    public async Task Regenerate_keys_share_one_namespace_with_posting()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", "post-key");
        await CompletionsAsync(id, 1);

        var regenerated = await grain.RegenerateAsync(Ada, first.AssistantMessageId, "regen-key");
        var again = await grain.RegenerateAsync(Ada, first.AssistantMessageId, "regen-key");

        Assert.Equal((regenerated.AssistantMessageId, regenerated.EventId), (again.AssistantMessageId, again.EventId));
        Assert.Equal(ConversationErrorKind.IdempotencyKeyReused, await RefusalAsync(() => grain.RegenerateAsync(Ada, first.AssistantMessageId, "post-key")));
        Assert.Equal(ConversationErrorKind.IdempotencyKeyReused, await RefusalAsync(() => grain.PostAsync(Ada, "first", "regen-key")));
        await CompletionsAsync(id, 2);
        Assert.Equal(3, (await grain.GetSnapshotAsync(Ada.UserId)).Messages.Count);
    }

    [Fact]
    public async Task A_regenerated_reply_can_be_cancelled_while_it_streams()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);
        await CompletionsAsync(id, 1);
        var regenerated = await grain.RegenerateAsync(Ada, first.AssistantMessageId, null);
        await Eventually.Until(() => cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageDelta && Delta(e).MessageId == regenerated.AssistantMessageId),
            TimeSpan.FromSeconds(10), "the regenerated reply streams");

        await grain.CancelAsync(Ada.UserId, regenerated.AssistantMessageId);

        var completed = Completed((await CompletionsAsync(id, 2)).Last(e => e.Type == EventTypes.MessageCompleted));
        Assert.Equal((regenerated.AssistantMessageId, MessageStatus.Cancelled), (completed.MessageId, completed.Status));
        Assert.Equal(MessageStatus.Complete, Find(await grain.GetSnapshotAsync(Ada.UserId), first.AssistantMessageId).Status);
    }

    [Fact]
    public async Task Any_member_moves_the_head_to_a_reply_and_moving_it_where_it_is_is_no_event()
    {
        var (id, grain) = await NewConversationAsync();
        await grain.JoinAsync(Bob, await grain.CreateInviteAsync(Ada.UserId));
        var first = await grain.PostAsync(Ada, "first", null);
        await grain.PostAsync(Ada, "second", null);
        await CompletionsAsync(id, 2);

        var snapshot = await grain.SetHeadAsync(Bob.UserId, first.AssistantMessageId);
        var count = (await cluster.LogAsync(id)).Count;
        var again = await grain.SetHeadAsync(Bob.UserId, first.AssistantMessageId);

        Assert.Equal(first.AssistantMessageId, snapshot.Head);
        Assert.Equal(first.AssistantMessageId, Heads(await cluster.LogAsync(id)).Last());
        Assert.Equal(count, (await cluster.LogAsync(id)).Count);
        Assert.Equal(snapshot.LastEventId, again.LastEventId);
        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.SetHeadAsync(Bob.UserId, first.UserMessageId)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.SetHeadAsync(Bob.UserId, "nope")));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.SetHeadAsync("eve", first.AssistantMessageId)));

        // A prompt without a parent now follows the head Bob chose.
        var next = await grain.PostAsync(Ada, "third", null);
        Assert.Equal(first.AssistantMessageId, Find(await grain.GetSnapshotAsync(Ada.UserId), next.UserMessageId).ParentId);
        await CompletionsAsync(id, 3);
    }

    [Fact]
    public async Task A_fork_copies_the_path_into_a_new_conversation_of_the_caller_alone_with_new_ids()
    {
        var (id, grain) = await NewConversationAsync("Plans");
        await grain.JoinAsync(Bob, await grain.CreateInviteAsync(Ada.UserId));
        var first = await grain.PostAsync(Ada, "first", null);
        await grain.PostAsync(Ada, "second", null);
        await CompletionsAsync(id, 2);
        var branch = await grain.PostAsync(Bob, "second, edited", null, new PromptParent(first.AssistantMessageId));
        await CompletionsAsync(id, 3);
        var source = await grain.GetForkSourceAsync(Bob.UserId, branch.AssistantMessageId);

        var forkId = Guid.NewGuid().ToString("N");
        var fork = await cluster.Conversation(forkId).CreateForkAsync(Bob, source);

        var original = await grain.GetSnapshotAsync(Ada.UserId);
        var path = new[] { first.UserMessageId, first.AssistantMessageId, branch.UserMessageId, branch.AssistantMessageId }.Select(m => Find(original, m)).ToList();
        Assert.Equal("Plans (fork)", fork.Title);
        Assert.Equal([new Member("bob", "Bob", MemberRoles.Owner)], fork.Members);
        Assert.Equal(path.Select(m => (m.Role, m.AuthorId, m.Content, m.Status)), fork.Messages.Select(m => (m.Role, m.AuthorId, m.Content, m.Status)));
        Assert.Empty(fork.Messages.Select(m => m.Id).Intersect(original.Messages.Select(m => m.Id)));
        Assert.Equal([null, fork.Messages[0].Id, fork.Messages[1].Id, fork.Messages[2].Id], fork.Messages.Select(m => m.ParentId));
        Assert.Equal(fork.Messages[2].Id, fork.Messages[3].ReplyTo);
        Assert.Equal(fork.Messages[3].Id, fork.Head);
        var log = await cluster.LogAsync(forkId);
        Assert.Equal(Enumerable.Repeat(EventTypes.MessageCreated, 4), log.Select(e => e.Type));
        AssertConsecutive(log);
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => cluster.Conversation(forkId).GetSnapshotAsync(Ada.UserId)));
    }

    [Fact]
    public async Task A_fork_needs_a_finished_reply()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);

        Assert.Equal(ConversationErrorKind.Conflict, await RefusalAsync(() => grain.GetForkSourceAsync(Ada.UserId, first.AssistantMessageId)));
        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.GetForkSourceAsync(Ada.UserId, first.UserMessageId)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetForkSourceAsync(Ada.UserId, "nope")));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetForkSourceAsync(Bob.UserId, first.AssistantMessageId)));
        await CompletionsAsync(id, 1);
    }

    [Fact]
    public async Task The_tree_and_the_head_survive_a_reload_from_the_store()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);
        await CompletionsAsync(id, 1);
        var regenerated = await grain.RegenerateAsync(Ada, first.AssistantMessageId, null);
        await CompletionsAsync(id, 2);
        await grain.SetHeadAsync(Ada.UserId, first.AssistantMessageId);
        var before = await grain.GetSnapshotAsync(Ada.UserId);

        await cluster.Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var after = await Eventually.Until(() => grain.GetSnapshotAsync(Ada.UserId), s => s.LastEventId == before.LastEventId, TimeSpan.FromSeconds(10), "it reloads");
        Assert.Equal(first.AssistantMessageId, after.Head);
        Assert.Equal(before.Messages.Select(m => (m.Id, m.ParentId)), after.Messages.Select(m => (m.Id, m.ParentId)));
        Assert.Equal(first.UserMessageId, Find(after, regenerated.AssistantMessageId).ParentId);
    }
}
