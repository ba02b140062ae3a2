using System.Text.Json;
using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace ChatGrains.Tests.Grains;

/// <summary>The user grain on a two-silo cluster: list items, unread counts, read positions, and convergence after failures.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class UserGrainTests(UserCluster cluster) : IClassFixture<UserCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Unread_counts_others_messages_after_the_read_position_which_starts_at_join_moves_on_posting_and_never_back()
    {
        var (ada, bob) = (NewCaller("Ada"), NewCaller("Bob"));
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(ada, "read state");
        await grain.PostAsync(ada, "before bob", null);
        await CompletionsAsync(id, 1);
        await JoinAsync(grain, ada, bob);
        var joined = (await cluster.LogAsync(id)).Single(e => e.Type == EventTypes.MemberJoined).Id;

        // History from before Bob joined is not unread for him.
        var bobs = await ItemAsync(bob, id);
        Assert.Equal((0, joined, "member"), (bobs.Unread, bobs.LastReadEventId, bobs.Role));
        Assert.Equal(("read state", ada.UserId), (bobs.Title, bobs.OwnerId));

        var receipt = await grain.PostAsync(ada, "after bob", null);
        var log = await CompletionsAsync(id, 2);

        // Ada's prompt moved her read position to it: only the reply after it is unread for her.
        var adas = await ItemAsync(ada, id);
        Assert.Equal((1, receipt.EventId, "owner"), (adas.Unread, adas.LastReadEventId, adas.Role));
        // Bob has Ada's prompt and the reply to read.
        Assert.Equal(2, (await ItemAsync(bob, id)).Unread);
        Assert.Equal(await LastActivityAsync(id), (await ItemAsync(bob, id)).LastActivityAt);

        await cluster.User(bob.UserId).MarkReadAsync(id, log[^1].Id);
        Assert.Equal((0, log[^1].Id), ((await ItemAsync(bob, id)).Unread, (await ItemAsync(bob, id)).LastReadEventId));
        await cluster.User(bob.UserId).MarkReadAsync(id, 1);
        Assert.Equal(log[^1].Id, (await ItemAsync(bob, id)).LastReadEventId);
    }

    [Fact]
    public async Task The_users_stream_adds_updates_at_most_once_a_second_with_the_last_change_and_ids_are_consecutive()
    {
        var ada = NewCaller("Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(ada, "stream");
        for (var i = 0; i < 3; i++) await grain.PostAsync(ada, $"prompt {i}", null);
        await CompletionsAsync(id, 3);
        var lastActivity = await LastActivityAsync(id);

        var events = await Eventually.Until(() => cluster.UserLogAsync(ada.UserId),
            l => l.Count > 0 && Item(l[^1]).LastActivityAt == lastActivity && Item(l[^1]).Unread == 1,
            Wait, "the last change reaches Ada's stream");
        Assert.Equal(UserEventTypes.ConversationAdded, events[0].Type);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Id));
        Assert.All(events.Skip(1), e => Assert.Equal(UserEventTypes.ConversationUpdated, e.Type));
        // Three prompts and three replies made at least six changes; far fewer updates went out.
        Assert.InRange(events.Count - 1, 1, 5);
    }

    [Fact]
    public async Task A_lost_notification_is_made_good_by_the_periodic_reconcile()
    {
        var (ada, bob) = (NewCaller("Ada"), NewCaller("Bob"));
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(ada, "lost");
        Assert.Empty(await cluster.User(bob.UserId).ListAsync()); // Bob's grain is active

        UserCluster.DropNotifications = true;
        try
        {
            await JoinAsync(grain, ada, bob);
            var events = await Eventually.Until(() => cluster.UserLogAsync(bob.UserId), l => l.Count > 0, Wait, "Bob's stream gets the conversation");
            Assert.Equal(UserEventTypes.ConversationAdded, events.Single().Type);
            Assert.Equal(id, Item(events.Single()).Id);
        }
        finally
        {
            UserCluster.DropNotifications = false;
        }
    }

    [Fact]
    public async Task After_the_silo_hosting_a_user_grain_is_killed_the_users_stream_goes_on_with_consecutive_ids()
    {
        var ada = NewCaller("Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(ada, "crash");
        var before = await Eventually.Until(() => cluster.UserLogAsync(ada.UserId), l => l.Count > 0, Wait, "Ada's stream has the conversation");

        var address = await cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(cluster.User(ada.UserId));
        var host = cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address));
        await cluster.Cluster.KillSiloAsync(host);

        // The next change reactivates the user grain on the surviving silo.
        var after = await Eventually.Until(async () =>
        {
            try
            {
                await cluster.User(ada.UserId).MarkReadAsync(id, 0);
                await cluster.Conversation(id).PostAsync(ada, "still there?", "after-crash");
                return await cluster.UserLogAsync(ada.UserId);
            }
            catch (Exception) { return []; } // the dead silo is still being declared dead
        }, l => l.Count > before.Count, TimeSpan.FromSeconds(60), "Ada's stream continues");

        Assert.Equal(Enumerable.Range(1, after.Count).Select(i => (long)i), after.Select(e => e.Id));
        Assert.Equal(before.Select(e => (e.Id, e.Type, e.Data)), after.Take(before.Count).Select(e => (e.Id, e.Type, e.Data)));
    }

    [Fact]
    public async Task The_latest_thousand_events_are_kept_for_replay_and_an_older_resume_point_cannot_be_served()
    {
        var ada = NewCaller("Ada");
        // 1,010 conversations: one conversation.added each.
        foreach (var batch in Enumerable.Range(0, 1010).Chunk(100))
            await Task.WhenAll(batch.Select(i => cluster.Conversation(Guid.NewGuid().ToString("N")).CreateAsync(ada, $"c{i}")));
        var head = await Eventually.Until(() => cluster.User(ada.UserId).ReadEventsAsync(long.MaxValue, 0), p => p.LastEventId >= 1010,
            TimeSpan.FromSeconds(60), "every conversation reaches Ada's log");

        var oldest = head.LastEventId - 999;
        var tooOld = await cluster.User(ada.UserId).ReadEventsAsync(0, 10);
        Assert.False(tooOld.CanResumeFrom(0));
        Assert.Empty(tooOld.Events);
        var kept = await cluster.User(ada.UserId).ReadEventsAsync(oldest - 1, 1000);
        Assert.True(kept.CanResumeFrom(oldest - 1));
        Assert.Equal(Enumerable.Range((int)oldest, 1000).Select(i => (long)i), kept.Events.Select(e => e.Id));
    }

    private static Caller NewCaller(string name) => new(Guid.NewGuid().ToString("N"), name);

    private async Task<ConversationListItem> ItemAsync(Caller user, string id) =>
        (await cluster.User(user.UserId).ListAsync()).Single(i => i.Id == id);

    /// <summary>The conversation's latest activity, as the store has it.</summary>
    private async Task<DateTimeOffset> LastActivityAsync(string id)
    {
        var silo = cluster.Cluster.Silos.OfType<InProcessSiloHandle>().First(s => s.IsActive);
        return (await silo.SiloHost.Services.GetRequiredService<IConversationStore>().LoadAsync(id))!.LastActivityAt;
    }

    private static async Task JoinAsync(IConversationGrain grain, Caller owner, Caller joiner)
    {
        var token = await grain.CreateInviteAsync(owner.UserId);
        await grain.JoinAsync(joiner, token);
    }

    private Task<List<ConversationEvent>> CompletionsAsync(string id, int count) =>
        Eventually.Until(() => cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= count, Wait, $"{count} replies complete");

    private static ConversationListItem Item(ConversationEvent e) => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.ConversationListItem)!;
}
