using ChatGrains.Tests.Infrastructure;
using Orleans.Runtime;
using static ChatGrains.Tests.Grains.ConversationGrainTests;

namespace ChatGrains.Tests.Grains;

/// <summary>Killing the silo that hosts a conversation in the middle of a regenerated reply.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class TreeCrashTests : IAsyncLifetime
{
    private readonly ConversationCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task A_regenerate_interrupted_by_a_silo_crash_ends_failed_and_ids_are_never_reused()
    {
        var ada = new Caller("ada", "Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Conversation(id);
        await grain.CreateAsync(ada, "crash");
        var first = await grain.PostAsync(ada, "a long answer please", null);
        await Eventually.Until(() => _cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageCompleted), TimeSpan.FromSeconds(30), "the first reply ends");
        var regenerated = await grain.RegenerateAsync(ada, first.AssistantMessageId, "again");
        var before = await Eventually.Until(() => _cluster.LogAsync(id),
            l => l.Count(e => e.Type == EventTypes.MessageDelta && Delta(e).MessageId == regenerated.AssistantMessageId) >= 3,
            TimeSpan.FromSeconds(10), "the regenerated reply streams");

        var address = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address)));

        var log = await Eventually.Until(async () =>
        {
            try { return await _cluster.LogAsync(id); }
            catch (Exception) { return []; } // the dead silo is still being declared dead
        }, l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= 2, TimeSpan.FromSeconds(60), "the interrupted regenerate ends");

        AssertConsecutive(log);
        Assert.Equal(before.Select(e => (e.Id, e.Type, e.Data)), log.Take(before.Count).Select(e => (e.Id, e.Type, e.Data)));
        var failed = Completed(log.Last(e => e.Type == EventTypes.MessageCompleted));
        Assert.Equal((regenerated.AssistantMessageId, MessageStatus.Failed, "interrupted"), (failed.MessageId, failed.Status, failed.Error));

        // A retry with the same key creates nothing; a new regenerate continues the log.
        var retried = await grain.RegenerateAsync(ada, first.AssistantMessageId, "again");
        Assert.Equal(regenerated.AssistantMessageId, retried.AssistantMessageId);
        var next = await grain.RegenerateAsync(ada, first.AssistantMessageId, null);
        Assert.Equal(log[^1].Id + 1, next.EventId);
        var after = await Eventually.Until(() => _cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= 3, TimeSpan.FromSeconds(30), "the next regenerate completes");
        AssertConsecutive(after);
        Assert.Equal(MessageStatus.Complete, Completed(after.Last(e => e.Type == EventTypes.MessageCompleted)).Status);
    }
}
