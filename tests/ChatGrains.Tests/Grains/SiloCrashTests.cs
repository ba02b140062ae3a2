using ChatGrains.Tests.Infrastructure;
using Orleans.Runtime;
using static ChatGrains.Tests.Grains.ConversationGrainTests;

namespace ChatGrains.Tests.Grains;

/// <summary>Killing the silo that hosts a conversation in the middle of a reply.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class SiloCrashTests : IAsyncLifetime
{
    private readonly ConversationCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task A_reply_interrupted_by_a_silo_crash_ends_failed_ids_are_never_reused_and_the_queue_goes_on()
    {
        var ada = new Caller("ada", "Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Conversation(id);
        await grain.CreateAsync(ada, "crash");
        var interrupted = await grain.PostAsync(ada, "a long answer please", null);
        var queued = await grain.PostAsync(ada, "and then this", null);
        var before = await Eventually.Until(() => _cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageDelta) >= 3,
            TimeSpan.FromSeconds(10), "the reply streams");

        var address = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var host = _cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address));
        await _cluster.Cluster.KillSiloAsync(host);

        // The next call reactivates the conversation on the surviving silo.
        var log = await Eventually.Until(async () =>
        {
            try { return await _cluster.LogAsync(id); }
            catch (Exception) { return []; } // the dead silo is still being declared dead
        }, l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= 2, TimeSpan.FromSeconds(60), "the interrupted and the queued reply end");

        AssertConsecutive(log);
        // Every event seen before the crash is still there, unchanged: no id was handed out twice.
        Assert.Equal(before.Select(e => (e.Id, e.Type, e.Data)), log.Take(before.Count).Select(e => (e.Id, e.Type, e.Data)));

        var ends = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        var failed = ends.Single(c => c.MessageId == interrupted.AssistantMessageId);
        Assert.Equal(MessageStatus.Failed, failed.Status);
        Assert.Equal("interrupted", failed.Error);
        Assert.Equal(string.Concat(log.Where(e => e.Type == EventTypes.MessageDelta && Delta(e).MessageId == failed.MessageId).Select(e => Delta(e).Delta)), failed.Content);
        Assert.True(MessageStatus.Complete == ends.Single(c => c.MessageId == queued.AssistantMessageId).Status, string.Join("\n", log.Where(e => e.Type != EventTypes.MessageDelta).Select(e => $"{e.Id} {e.Type} {e.Data}")));

        // The next prompt works, and its ids continue the log.
        var next = await grain.PostAsync(ada, "still there?", null);
        Assert.Equal(log[^1].Id + 1, next.EventId);
        var after = await Eventually.Until(() => _cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= 3, TimeSpan.FromSeconds(30), "the next reply completes");
        AssertConsecutive(after);
    }
}
