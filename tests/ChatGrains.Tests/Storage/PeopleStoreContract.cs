using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// The store's part of roles, leaving, renaming, invites with limits and deleting: the same
/// contract, run against SQLite and PostgreSQL alike.
/// </summary>
public abstract partial class ConversationStoreContract<TStore>
{
    /// <summary>How many rows of the conversation the database holds, in every table that has any.</summary>
    protected abstract Task<long> RowsOfAsync(string conversationId);

    private static StoredMember Owner(string userId, string name) => new(new Member(userId, name, MemberRoles.Owner), 0);

    [Fact]
    public async Task Members_keep_their_role_and_joined_event_and_a_removed_members_row_goes()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 1) with { Events = [Event(1)], Members = [Owner("alice", "Alice"), Joined("bob", "Bob", 1)] });
        Assert.Equal([Owner("alice", "Alice"), Joined("bob", "Bob", 1)], (await _store.LoadAsync("c1"))!.Members);

        await _store.CommitAsync(Next("c1", lastEventId: 2) with { Events = [Event(2)], RemovedMembers = ["bob"] });

        Assert.Equal([Owner("alice", "Alice")], (await _store.LoadAsync("c1"))!.Members);
    }

    [Fact]
    public async Task A_member_who_leaves_and_joins_again_in_one_batch_is_a_member_afterwards()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 1) with { Events = [Event(1)], Members = [Owner("alice", "Alice"), Joined("bob", "Bob", 1)] });

        // Queued behind a large commit, so the three share one batch.
        var busy = _store.CommitAsync(Next("c1", lastEventId: 3000) with { Events = [.. Enumerable.Range(2, 2999).Select(i => Event(i))] });
        Task[] commits =
        [
            _store.CommitAsync(Next("c1", lastEventId: 3001) with { Events = [Event(3001)], RemovedMembers = ["bob"] }),
            _store.CommitAsync(Next("c1", lastEventId: 3002) with { Events = [Event(3002)], Members = [Joined("bob", "Bob", 3002)] }),
        ];
        await busy;
        await Task.WhenAll(commits);

        Assert.Equal([Owner("alice", "Alice"), Joined("bob", "Bob", 3002)], (await _store.LoadAsync("c1"))!.Members);
    }

    [Fact]
    public async Task Invites_keep_their_limits_and_each_later_version_replaces_the_row()
    {
        var limited = new Invite("tok", "alice", T0, T0.AddHours(1), MaxUses: 2);
        var open = new Invite("open", "bob", T0.AddSeconds(1));
        await _store.CommitAsync(Create("c1", lastEventId: 0) with { Invites = [limited, open] });

        // Two joins and a revoke queued back to back: the last version of each invite wins.
        var busy = _store.CommitAsync(Next("c1", lastEventId: 2000) with { Events = [.. Enumerable.Range(1, 2000).Select(i => Event(i))] });
        Task[] commits =
        [
            _store.CommitAsync(Next("c1", lastEventId: 2000) with { Invites = [limited with { Uses = 1 }] }),
            _store.CommitAsync(Next("c1", lastEventId: 2000) with { Invites = [limited with { Uses = 2 }, open with { Revoked = true }] }),
        ];
        await busy;
        await Task.WhenAll(commits);

        Assert.Equal([limited with { Uses = 2 }, open with { Revoked = true }], (await _store.LoadAsync("c1"))!.Invites);
    }

    [Fact]
    public async Task A_rename_changes_the_stored_title()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 0) with { Members = [Owner("alice", "Alice")] });

        await _store.CommitAsync(Next("c1", lastEventId: 1) with { Events = [Event(1)], Title = "Renamed" });

        Assert.Equal("Renamed", (await _store.LoadAsync("c1"))!.Info.Title);
    }

    [Fact]
    public async Task Deleting_a_conversation_leaves_no_row_of_it_and_others_untouched()
    {
        ConversationCommit Full(string id) => Create(id, lastEventId: 2) with
        {
            Events = [Event(1), Event(2)],
            Members = [Owner("alice", "Alice"), Joined("bob", "Bob", 1)],
            Messages = [new StoredMessage(UserMessage("m1", "hello"), 2, 0)],
            Invites = [new Invite("tok", "alice", T0, MaxUses: 3, Uses: 1)],
            IdempotencyKeys = [new IdempotencyRecord("alice", "k1", "hash", new PostReceiptIds("m1", "m2", 2))],
        };
        await _store.CommitAsync(Full("c1"));
        await _store.CommitAsync(Full("c2"));
        var before = await RowsOfAsync("c2");

        await _store.CommitAsync(Next("c1", lastEventId: 3) with { Events = [Event(3)], Delete = true });

        Assert.Equal(0, await RowsOfAsync("c1"));
        Assert.Null(await _store.LoadAsync("c1"));
        Assert.Empty(await _store.ReadEventsAsync("c1", 0, 100));
        Assert.Equal([Owner("alice", "Alice"), Joined("bob", "Bob", 1)], (await _store.LoadAsync("c2"))!.Members);
        Assert.Equal(before, await RowsOfAsync("c2"));
    }
}
