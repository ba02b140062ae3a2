using System.Text.Json;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Grains;

/// <summary>The conversation grain on a two-silo cluster: ordering, queueing, cancel and idempotency.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class ConversationGrainTests(ConversationCluster cluster) : IClassFixture<ConversationCluster>
{
    private static readonly Caller Ada = new("ada", "Ada");

    [Fact]
    public async Task Prompts_are_answered_one_at_a_time_in_the_order_they_were_posted()
    {
        var (id, grain) = await NewConversationAsync();
        var receipts = new List<PostReceipt>();
        foreach (var prompt in new[] { "one", "two", "three" }) receipts.Add(await grain.PostAsync(Ada, prompt, null));

        var log = await WaitForCompletionsAsync(id, 3);
        var completions = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        Assert.Equal(receipts.Select(r => r.AssistantMessageId), completions.Select(c => c.MessageId));
        Assert.All(completions, c => Assert.Equal(MessageStatus.Complete, c.Status));
        AssertConsecutive(log);

        // Deltas of one reply never interleave with another's.
        var deltaOwners = log.Where(e => e.Type == EventTypes.MessageDelta).Select(e => Delta(e).MessageId).ToList();
        var runs = deltaOwners.Where((owner, i) => i == 0 || deltaOwners[i - 1] != owner).ToList();
        Assert.Equal(receipts.Select(r => r.AssistantMessageId), runs);

        var snapshot = await grain.GetSnapshotAsync(Ada.UserId);
        foreach (var c in completions)
            Assert.Equal(c.Content, snapshot.Messages.Single(m => m.Id == c.MessageId).Content);
    }

    [Fact]
    public async Task A_queued_reply_can_be_cancelled_and_the_queue_goes_on()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "first", null);
        var second = await grain.PostAsync(Ada, "second", null);
        var third = await grain.PostAsync(Ada, "third", null);

        await grain.CancelAsync(Ada.UserId, second.AssistantMessageId);
        var log = await WaitForCompletionsAsync(id, 3);

        var completions = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        Assert.Equal([second.AssistantMessageId, first.AssistantMessageId, third.AssistantMessageId], completions.Select(c => c.MessageId));
        Assert.Equal([MessageStatus.Cancelled, MessageStatus.Complete, MessageStatus.Complete], completions.Select(c => c.Status));
        Assert.DoesNotContain(log, e => e.Type == EventTypes.MessageDelta && Delta(e).MessageId == second.AssistantMessageId);
    }

    [Fact]
    public async Task Cancelling_the_streaming_reply_stops_it_with_the_text_so_far()
    {
        var (id, grain) = await NewConversationAsync();
        var receipt = await grain.PostAsync(Ada, "stop me", null);
        await Eventually.Until(() => cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageDelta), TimeSpan.FromSeconds(10), "the reply streams");

        await grain.CancelAsync(Ada.UserId, receipt.AssistantMessageId);
        var log = await WaitForCompletionsAsync(id, 1);

        var completed = Completed(log.Single(e => e.Type == EventTypes.MessageCompleted));
        Assert.Equal(MessageStatus.Cancelled, completed.Status);
        Assert.Equal(string.Concat(log.Where(e => e.Type == EventTypes.MessageDelta).Select(e => Delta(e).Delta)), completed.Content);
        var ex = await Assert.ThrowsAsync<ConversationException>(() => grain.CancelAsync(Ada.UserId, receipt.AssistantMessageId));
        Assert.Equal(ConversationErrorKind.Conflict, ex.Kind);
    }

    [Fact]
    public async Task A_repeated_idempotency_key_returns_the_same_exchange_and_other_content_is_refused()
    {
        var (id, grain) = await NewConversationAsync();
        var first = await grain.PostAsync(Ada, "hello", "key");
        var again = await grain.PostAsync(Ada, "hello", "key");
        Assert.Equal((first.UserMessageId, first.AssistantMessageId, first.EventId), (again.UserMessageId, again.AssistantMessageId, again.EventId));

        var ex = await Assert.ThrowsAsync<ConversationException>(() => grain.PostAsync(Ada, "other", "key"));
        Assert.Equal(ConversationErrorKind.IdempotencyKeyReused, ex.Kind);
        // Keys are scoped to the caller: another member may use the same key.
        var token = await grain.CreateInviteAsync(Ada.UserId);
        var bob = new Caller("bob", "Bob");
        await grain.JoinAsync(bob, token);
        var bobs = await grain.PostAsync(bob, "other", "key");
        Assert.NotEqual(first.UserMessageId, bobs.UserMessageId);

        await WaitForCompletionsAsync(id, 2);
        Assert.Equal(4, (await grain.GetSnapshotAsync(Ada.UserId)).Messages.Count);
    }

    [Fact]
    public async Task Non_members_are_told_the_conversation_does_not_exist()
    {
        var (_, grain) = await NewConversationAsync();
        var ex = await Assert.ThrowsAsync<ConversationException>(() => grain.GetSnapshotAsync("mallory"));
        Assert.Equal(ConversationErrorKind.NotFound, ex.Kind);
        ex = await Assert.ThrowsAsync<ConversationException>(() => grain.PostAsync(new Caller("mallory", "M"), "hi", null));
        Assert.Equal(ConversationErrorKind.NotFound, ex.Kind);
    }

    private async Task<(string, IConversationGrain)> NewConversationAsync()
    {
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(Ada, "test");
        return (id, grain);
    }

    private Task<List<ConversationEvent>> WaitForCompletionsAsync(string id, int count) =>
        Eventually.Until(() => cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= count, TimeSpan.FromSeconds(30), $"{count} replies complete");

    internal static void AssertConsecutive(IReadOnlyList<ConversationEvent> log) =>
        Assert.Equal(Enumerable.Range(1, log.Count).Select(i => (long)i), log.Select(e => e.Id));

    internal static MessageCompletedData Completed(ConversationEvent e) => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCompletedData)!;

    internal static MessageDeltaData Delta(ConversationEvent e) => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageDeltaData)!;
}
