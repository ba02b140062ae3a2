using ChatGrains.Tests.Infrastructure;
using static ChatGrains.Tests.LongConversations.LongConversation;

namespace ChatGrains.Tests.LongConversations;

/// <summary>
/// A conversation longer than what its grain holds, on a two-silo cluster: memory stays bounded,
/// and what left memory is still there for every request that names it.
/// </summary>
[Trait("Category", TestCategory.Grains)]
public sealed class LongConversationGrainTests(LongConversationCluster cluster) : IClassFixture<LongConversationCluster>
{
    private static readonly Caller Ada = new("ada", "Ada");
    private const int Window = LongConversationCluster.Window;

    private async Task<(string Id, IConversationGrain Grain)> SeededAsync(int count)
    {
        var id = Guid.NewGuid().ToString("N");
        await SeedAsync(cluster.Store, id, Ada, count);
        return (id, cluster.Conversation(id));
    }

    private Task<List<ConversationEvent>> CompletionsAfterAsync(string id, long after, int count) =>
        Eventually.Until(async () => (await cluster.LogAsync(id)).Where(e => e.Id > after).ToList(),
            l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= count, TimeSpan.FromSeconds(60), $"{count} replies complete");

    private static async Task<ConversationErrorKind> RefusalAsync(Func<Task> call) => (await Assert.ThrowsAsync<ConversationException>(call)).Kind;

    [Fact]
    public async Task A_conversation_of_10000_messages_holds_only_its_window_and_pages_reach_back_to_the_first()
    {
        var (_, grain) = await SeededAsync(10_000);

        var footprint = await grain.GetFootprintAsync();
        var snapshot = await grain.GetSnapshotAsync(Ada.UserId, 200);
        var pages = new List<MessagePage>();
        for (var before = snapshot.Messages[0].Id; ; before = pages[^1].Messages[0].Id)
        {
            pages.Add(await grain.GetMessagesAsync(Ada.UserId, before, 1000));
            if (!pages[^1].HasMore) break;
        }

        Assert.InRange(footprint.Messages, 1, Window);
        Assert.Equal(footprint.Messages, footprint.TreeNodes);
        Assert.Equal(Enumerable.Range(9_801, 200).Select(Id), snapshot.Messages.Select(m => m.Id));
        Assert.True(snapshot.HasMore);
        Assert.Equal(Id(10_000), snapshot.Head);
        var all = pages.AsEnumerable().Reverse().SelectMany(p => p.Messages).Concat(snapshot.Messages).Select(m => m.Id);
        Assert.Equal(Enumerable.Range(1, 10_000).Select(Id), all);
        Assert.All(pages[..^1], p => Assert.True(p.HasMore));
        Assert.False(pages[^1].HasMore);
        Assert.InRange((await grain.GetFootprintAsync()).Messages, 1, Window);
    }

    [Fact]
    public async Task The_latest_page_and_a_page_of_the_whole_conversation_end_hasMore()
    {
        var (_, grain) = await SeededAsync(30);

        var latest = await grain.GetMessagesAsync(Ada.UserId, null, 5);
        var whole = await grain.GetSnapshotAsync(Ada.UserId, 1000);
        var first = await grain.GetMessagesAsync(Ada.UserId, Id(1), 10);

        Assert.Equal(Enumerable.Range(26, 5).Select(Id), latest.Messages.Select(m => m.Id));
        Assert.True(latest.HasMore);
        Assert.Equal(Enumerable.Range(1, 30).Select(Id), whole.Messages.Select(m => m.Id));
        Assert.False(whole.HasMore);
        Assert.Empty(first.Messages);
        Assert.False(first.HasMore);
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetMessagesAsync(Ada.UserId, "nope", 10)));
    }

    [Fact]
    public async Task Posting_under_regenerating_heading_and_forking_at_messages_that_left_memory_work()
    {
        var (id, grain) = await SeededAsync(1_000);
        Assert.InRange((await grain.GetFootprintAsync()).Messages, 1, Window);

        var edit = await grain.PostAsync(Ada, "an edit of prompt 11", null, new PromptParent(Id(10)));
        await CompletionsAfterAsync(id, 1_000, 1);
        var regenerated = await grain.RegenerateAsync(Ada, Id(20), null);
        await CompletionsAfterAsync(id, 1_000, 2);
        // Its position among the replies to prompt 19, counted from the store, makes the embedded generator answer anew.
        var again = await grain.RegenerateAsync(Ada, Id(20), null);
        await CompletionsAfterAsync(id, 1_000, 3);
        var headed = await grain.SetHeadAsync(Ada.UserId, Id(30));
        var fork = await grain.GetForkSourceAsync(Ada.UserId, Id(6));

        var messages = (await grain.GetMessagesAsync(Ada.UserId, null, 6)).Messages;
        Assert.Equal(Id(10), messages.Single(m => m.Id == edit.UserMessageId).ParentId);
        Assert.Equal(MessageStatus.Complete, messages.Single(m => m.Id == edit.AssistantMessageId).Status);
        Assert.Equal(Id(19), messages.Single(m => m.Id == regenerated.AssistantMessageId).ParentId);
        Assert.Equal(Id(19), regenerated.UserMessageId);
        Assert.NotEqual(messages.Single(m => m.Id == regenerated.AssistantMessageId).Content, messages.Single(m => m.Id == again.AssistantMessageId).Content);
        Assert.Equal(Id(30), headed.Head);
        Assert.Equal(Enumerable.Range(1, 6).Select(Id), fork.Path.Select(m => m.Id));
        Assert.Equal(ConversationErrorKind.Conflict, await RefusalAsync(() => grain.CancelAsync(Ada.UserId, Id(8))));
        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.PostAsync(Ada, "x", null, new PromptParent(Id(7)))));
        Assert.Equal(ConversationErrorKind.BadRequest, await RefusalAsync(() => grain.RegenerateAsync(Ada, Id(9), null)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.SetHeadAsync(Ada.UserId, "nope")));
        Assert.InRange((await grain.GetFootprintAsync()).Messages, 1, Window + 2);
    }

    [Fact]
    public async Task A_retry_is_answered_as_before_after_its_key_left_memory_and_is_new_after_the_retention()
    {
        var (id, grain) = await SeededAsync(40);
        var first = await grain.PostAsync(Ada, "keyed", "k0");
        for (var i = 1; i <= 4; i++) await grain.PostAsync(Ada, $"later {i}", $"k{i}");
        await CompletionsAfterAsync(id, 40, 5);

        var held = await grain.GetFootprintAsync();
        var retry = await grain.PostAsync(Ada, "keyed", "k0");
        var other = await RefusalAsync(() => grain.PostAsync(Ada, "other content", "k0"));
        // Reactivated, the grain loads only the latest keys: the first is read from the store.
        await cluster.Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var reloaded = await grain.PostAsync(Ada, "keyed", "k0");
        cluster.Clock.Set(DateTimeOffset.UtcNow + TimeSpan.FromHours(25));
        PostReceipt expired;
        try { expired = await grain.PostAsync(Ada, "keyed", "k0"); }
        finally { cluster.Clock.Reset(); }

        Assert.Equal(3, held.IdempotencyKeys);
        Assert.Equal((first.UserMessageId, first.AssistantMessageId, first.EventId), (retry.UserMessageId, retry.AssistantMessageId, retry.EventId));
        Assert.True(retry.CompletedEventId > 0);
        Assert.Equal(ConversationErrorKind.IdempotencyKeyReused, other);
        Assert.Equal((first.UserMessageId, first.AssistantMessageId), (reloaded.UserMessageId, reloaded.AssistantMessageId));
        Assert.NotEqual(first.UserMessageId, expired.UserMessageId);
    }
}
