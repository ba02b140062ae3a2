using System.Data.Common;
using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// What every <see cref="IUserStore"/> must do, run against SQLite and PostgreSQL by thin
/// subclasses. Conversations are written with the matching conversation store, as the grains do.
/// </summary>
public abstract class UserStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    protected IConversationStore Conversations { get; set; } = null!;

    protected IUserStore Users { get; set; } = null!;

    /// <summary>Opens and initializes both stores on this test's (empty) storage.</summary>
    protected abstract Task OpenStoresAsync();

    protected abstract Task CloseStoresAsync();

    public Task InitializeAsync() => OpenStoresAsync();

    public Task DisposeAsync() => CloseStoresAsync();

    [Fact]
    public async Task Items_carry_the_role_unread_count_and_read_position_from_the_conversation_tables()
    {
        await SharedConversationAsync("c1");

        var bob = Assert.Single(await Users.ListAsync("bob"));
        // Bob joined at 3: Alice's prompt (4) and the reply (5) are unread for him.
        Assert.Equal(new ConversationListItem("c1", "Title c1", "alice", T0, T0.AddMinutes(3), "member", 2, 3), bob);
        // Alice's own prompt at 4 moved her read position there; the reply is unread.
        var alice = Assert.Single(await Users.ListAsync("alice"));
        Assert.Equal(("owner", 1, 4L), (alice.Role, alice.Unread, alice.LastReadEventId));
        Assert.Empty(await Users.ListAsync("carol"));
    }

    [Fact]
    public async Task A_read_position_only_moves_forward()
    {
        await SharedConversationAsync("c1");
        await Users.SaveReadPositionAsync("bob", "c1", 5);
        await Users.SaveReadPositionAsync("bob", "c1", 4);

        var bob = (await Users.FindAsync("bob", "c1")).Item!;
        Assert.Equal((0, 5L), (bob.Unread, bob.LastReadEventId));
    }

    [Fact]
    public async Task Find_tells_a_conversation_the_user_is_not_in_from_one_that_does_not_exist()
    {
        await SharedConversationAsync("c1");
        Assert.Equal(new UserConversation(null, true), await Users.FindAsync("carol", "c1"));
        Assert.Equal(new UserConversation(null, false), await Users.FindAsync("carol", "nope"));
    }

    [Fact]
    public async Task The_users_log_round_trips_with_its_list_and_refuses_a_reused_id()
    {
        var empty = await Users.LoadLogAsync("alice");
        Assert.Equal((0L, 1L, 0), (empty.LastEventId, empty.FirstStoredEventId, empty.Listed.Count));
        var a = new ConversationListItem("a", "A", "alice", T0, T0, "owner", 0, 0);
        var b = a with { Id = "b", Title = "B" };
        await Users.CommitAsync(new UserCommit("alice", [Event(1), Event(2)], [a, b], []));
        await Users.CommitAsync(new UserCommit("alice", [Event(3)], [b with { Unread = 7 }], ["a"]));

        var log = await Users.LoadLogAsync("alice");
        Assert.Equal((3L, 1L), (log.LastEventId, log.FirstStoredEventId));
        Assert.Equal([b with { Unread = 7 }], log.Listed);
        Assert.Equal([2L, 3L], (await Users.ReadEventsAsync("alice", 1, 10)).Select(e => e.Id));
        Assert.Empty(await Users.ReadEventsAsync("bob", 0, 10));

        var reused = await Assert.ThrowsAnyAsync<Exception>(() => Users.CommitAsync(new UserCommit("alice", [Event(3)], [a], [])));
        Assert.IsAssignableFrom<DbException>(reused);
        Assert.Equal([b with { Unread = 7 }], (await Users.LoadLogAsync("alice")).Listed);
    }

    [Fact]
    public async Task Commits_written_together_succeed_or_fail_alone()
    {
        await Users.CommitAsync(new UserCommit("alice", [Event(1)], [], []));
        var commits = Enumerable.Range(0, 20).Select(i => Users.CommitAsync(new UserCommit($"user{i}", [Event(1)], [], []))).ToList();
        var reused = Users.CommitAsync(new UserCommit("alice", [Event(1), Event(2)], [], []));
        await Task.WhenAll(commits);
        await Assert.ThrowsAnyAsync<DbException>(() => reused);

        foreach (var i in Enumerable.Range(0, 20)) Assert.Equal(1, (await Users.LoadLogAsync($"user{i}")).LastEventId);
        Assert.Equal(1, (await Users.LoadLogAsync("alice")).LastEventId);
    }

    [Fact]
    public async Task A_deleted_conversations_title_is_blanked_in_the_users_stored_events_which_keep_their_ids()
    {
        var a = new ConversationListItem("a", "Secret plans", "alice", T0, T0, "owner", 0, 0);
        var b = a with { Id = "b", Title = "Kept" };
        ConversationEvent Added(long id, ConversationListItem item) =>
            new(id, UserEventTypes.ConversationAdded, System.Text.Json.JsonSerializer.Serialize(item, ChatJson.Wire.ConversationListItem));
        await Users.CommitAsync(new UserCommit("alice", [Added(1, a), Added(2, b)], [a, b], []));
        var removed = new ConversationEvent(3, UserEventTypes.ConversationRemoved, """{"id":"a","reason":"deleted"}""");
        await Users.CommitAsync(new UserCommit("alice", [removed], [], ["a"], Deleted: ["a"]));

        var events = await Users.ReadEventsAsync("alice", 0, 10);
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Id));
        Assert.DoesNotContain(events, e => e.Data.Contains("Secret"));
        var blanked = System.Text.Json.JsonSerializer.Deserialize(events[0].Data, ChatJson.Wire.ConversationListItem)!;
        Assert.Equal(a with { Title = "" }, blanked);
        Assert.Contains("Kept", events[1].Data);
        Assert.Equal(removed.Data, events[2].Data);
    }

    [Fact]
    public async Task Pruned_events_are_gone_and_the_log_says_where_it_starts()
    {
        await Users.CommitAsync(new UserCommit("alice", [.. Enumerable.Range(1, 5).Select(i => Event(i))], [], []));
        await Users.CommitAsync(new UserCommit("alice", [Event(6)], [], [], PruneEventsBefore: 4));

        var log = await Users.LoadLogAsync("alice");
        Assert.Equal((6L, 4L), (log.LastEventId, log.FirstStoredEventId));
        Assert.Equal([4L, 5L, 6L], (await Users.ReadEventsAsync("alice", 0, 10)).Select(e => e.Id));
    }

    /// <summary>
    /// c1: Alice creates it; 1 her prompt, 2 the reply, 3 Bob joins, 4 Alice's prompt, 5 the reply.
    /// </summary>
    private async Task SharedConversationAsync(string id)
    {
        var prompt1 = new Message("m1", Roles.User, "alice", "Alice", "hi", MessageStatus.Complete, null, T0);
        var reply1 = new Message("m2", Roles.Assistant, "assistant", "Assistant", "hello", MessageStatus.Complete, "m1", T0);
        await Conversations.CommitAsync(new ConversationCommit(id, new ConversationInfo(id, $"Title {id}", "alice", T0),
            [Event(1), Event(2)], [Member("alice", "Alice", MemberRoles.Owner, 0)], [new(prompt1, 1, 2), new(reply1, 2, 2)], [], [], 2, T0.AddMinutes(1)));
        await Conversations.CommitAsync(new ConversationCommit(id, null,
            [new ConversationEvent(3, EventTypes.MemberJoined, """{"userId":"bob","name":"Bob"}""")], [Member("bob", "Bob", MemberRoles.Member, 3)], [], [], [], 3, T0.AddMinutes(2)));
        var prompt2 = prompt1 with { Id = "m3" };
        var reply2 = reply1 with { Id = "m4", ReplyTo = "m3" };
        await Conversations.CommitAsync(new ConversationCommit(id, null,
            [Event(4), Event(5)], [], [new(prompt2, 4, 4), new(reply2, 5, 5)], [], [], 5, T0.AddMinutes(3)));
    }

    private static StoredMember Member(string userId, string name, string role, long joinedEventId) => new(new(userId, name, role), joinedEventId);

    private static ConversationEvent Event(long id) => new(id, UserEventTypes.ConversationUpdated, $$"""{"n":{{id}}}""");
}
