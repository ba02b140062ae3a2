using System.Data.Common;
using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// What every <see cref="IConversationStore"/> must do, written once and run against each
/// store by a thin subclass, so SQLite and PostgreSQL are held to the same behaviour.
/// Each test starts with an empty store.
/// </summary>
public abstract partial class ConversationStoreContract<TStore> : IAsyncLifetime
    where TStore : IConversationStore, IAsyncDisposable
{
    // An offset and a sub-millisecond part on purpose: times must come back as the same instant.
    // Whole microseconds, the finest PostgreSQL keeps (SQLite would keep ticks).
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_560);

    private TStore _store = default!;

    private static StoredMember Joined(string userId, string name, long joinedEventId = 0) =>
        new(new Member(userId, name, MemberRoles.Member), joinedEventId);

    /// <summary>
    /// Opens and initializes a store on this test's storage. Called again after the first store
    /// is disposed, and must then see what the first one committed.
    /// </summary>
    protected abstract Task<TStore> OpenStoreAsync();

    /// <summary>Whether the error is the database's duplicate-key error (how a reused event id surfaces).</summary>
    protected abstract bool IsDuplicateKey(DbException error);

    /// <summary>What the store must report on this test's storage, as the test configures it.</summary>
    protected abstract StoreDurability ExpectedDurability { get; }

    public virtual async Task InitializeAsync() => _store = await OpenStoreAsync();

    public virtual async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Durability_is_read_back_from_the_database_the_store_writes_to()
    {
        Assert.Equal(ExpectedDurability, await _store.ReadDurabilityAsync());
    }

    [Fact]
    public async Task Unknown_conversation_loads_as_null()
    {
        Assert.Null(await _store.LoadAsync("nope"));
    }

    [Fact]
    public async Task Created_conversation_round_trips_with_members_messages_invites_and_keys()
    {
        var prompt = UserMessage("m1", "hello");
        var reply = new Message("m2", Roles.Assistant, "bot", "Bot", "", MessageStatus.Queued, "m1", T0.AddSeconds(1));
        var commit = Create("c1", lastEventId: 3) with
        {
            Events = [Event(1), Event(2), Event(3)],
            Members = [Joined("alice", "Alice"), Joined("bob", "Bob")],
            Messages = [new StoredMessage(reply, 3, 0), new StoredMessage(prompt, 2, 0)],
            Invites = [new Invite("tok", "alice", T0)],
            IdempotencyKeys = [new IdempotencyRecord("alice", "k1", "hash", new PostReceiptIds("m1", "m2", 2), T0)],
        };

        await _store.CommitAsync(commit);
        var stored = await _store.LoadAsync("c1");

        Assert.NotNull(stored);
        Assert.Equal(new ConversationInfo("c1", "Title c1", "alice", T0), stored.Info);
        Assert.Equal([Joined("alice", "Alice"), Joined("bob", "Bob")], stored.Members);
        Assert.Equal([new StoredMessage(prompt, 2, 0), new StoredMessage(reply, 3, 0)], stored.Messages);
        Assert.Equal([new Invite("tok", "alice", T0)], stored.Invites);
        Assert.Equal(commit.IdempotencyKeys, stored.IdempotencyKeys);
        Assert.Equal(3, stored.LastEventId);
        Assert.Equal(T0, stored.LastActivityAt);
        Assert.Equal(1, stored.FirstStoredEventId);
    }

    [Fact]
    public async Task Completing_a_message_replaces_its_row_and_moves_the_log_head()
    {
        var reply = new Message("m2", Roles.Assistant, "bot", "Bot", "", MessageStatus.Streaming, "m1", T0);
        await _store.CommitAsync(Create("c1", lastEventId: 1) with { Events = [Event(1)], Messages = [new StoredMessage(reply, 1, 0)] });

        var done = reply with { Content = "Hi there", Status = MessageStatus.Failed, Error = "cut off" };
        await _store.CommitAsync(Next("c1", lastEventId: 2) with { Events = [Event(2)], Messages = [new StoredMessage(done, 1, 2)] });

        var stored = await _store.LoadAsync("c1");
        Assert.Equal([new StoredMessage(done, 1, 2)], stored!.Messages);
        Assert.Equal(2, stored.LastEventId);
        Assert.Equal(T0.AddMinutes(1), stored.LastActivityAt);
    }

    [Fact]
    public async Task A_replys_token_usage_round_trips_and_unknown_usage_stays_unknown()
    {
        var reply = new Message("m2", Roles.Assistant, "bot", "Bot", "", MessageStatus.Streaming, "m1", T0);
        var other = reply with { Id = "m3" };
        await _store.CommitAsync(Create("c1", lastEventId: 2) with
        {
            Events = [Event(1), Event(2)],
            Messages = [new StoredMessage(reply, 1, 0), new StoredMessage(other, 2, 0)],
        });

        var done = reply with { Content = "Hi", Status = MessageStatus.Complete, Usage = new Usage(1234, 56) };
        var cancelled = other with { Status = MessageStatus.Cancelled };
        await _store.CommitAsync(Next("c1", lastEventId: 4) with
        {
            Events = [Event(3), Event(4)],
            Messages = [new StoredMessage(done, 1, 3), new StoredMessage(cancelled, 2, 4)],
        });

        var stored = await _store.LoadAsync("c1");
        Assert.Equal([new StoredMessage(done, 1, 3), new StoredMessage(cancelled, 2, 4)], stored!.Messages);
    }

    [Fact]
    public async Task Events_are_read_after_an_id_in_order_up_to_the_limit()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 10) with { Events = [.. Enumerable.Range(1, 10).Select(i => Event(i))] });
        await _store.CommitAsync(Create("other", lastEventId: 10) with { Events = [.. Enumerable.Range(1, 10).Select(i => Event(i))] });

        var page = await _store.ReadEventsAsync("c1", afterId: 4, max: 3);

        Assert.Equal([Event(5), Event(6), Event(7)], page);
        Assert.Empty(await _store.ReadEventsAsync("c1", afterId: 10, max: 3));
    }

    [Fact]
    public async Task Event_data_comes_back_byte_for_byte()
    {
        // Keys out of order, odd spacing, escapes and non-ASCII text: the JSON is the client's, not the store's.
        var data = """{"z":1,  "a":{"b":[1,2.50]},"text":"h\u00e9llo \"quoted\" — ünïcode 👋"}""";
        await _store.CommitAsync(Create("c1", lastEventId: 1) with { Events = [new ConversationEvent(1, EventTypes.MessageCreated, data)] });

        var stored = Assert.Single(await _store.ReadEventsAsync("c1", 0, 10));

        Assert.Equal(data, stored.Data);
    }

    [Fact]
    public async Task Duplicate_event_id_is_rejected_and_stores_nothing_of_that_commit()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 2) with { Events = [Event(1), Event(2)] });
        await _store.CommitAsync(Create("c2", lastEventId: 0));

        // The faulty commit and the good one share a batch: the faulty one must not take its
        // neighbour down with it.
        var busy = KeepEveryWriterBusy();
        var faulty = _store.CommitAsync(Next("c1", lastEventId: 3) with
        {
            Events = [Event(3), Event(2)],
            Messages = [new StoredMessage(UserMessage("m9", "lost"), 3, 0)],
        });
        var good = _store.CommitAsync(Next("c2", lastEventId: 1) with { Events = [Event(1)] });

        var error = await Assert.ThrowsAnyAsync<DbException>(() => faulty);
        Assert.True(IsDuplicateKey(error), $"Expected a duplicate-key error, got: {error.Message}");
        await busy;
        await good;

        var c1 = await _store.LoadAsync("c1");
        Assert.Equal(2, c1!.LastEventId);
        Assert.Empty(c1.Messages);
        Assert.Equal([Event(1), Event(2)], await _store.ReadEventsAsync("c1", 0, 100));
        Assert.Equal(1, (await _store.LoadAsync("c2"))!.LastEventId);
    }

    [Fact]
    public async Task Commit_to_a_conversation_that_was_never_created_fails()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.CommitAsync(Next("ghost", lastEventId: 1) with { Events = [Event(1)] }));
        Assert.Empty(await _store.ReadEventsAsync("ghost", 0, 10));
    }

    [Fact]
    public async Task Pruning_deletes_older_events_and_moves_the_first_stored_id()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 5) with { Events = [.. Enumerable.Range(1, 5).Select(i => Event(i))] });

        await _store.CommitAsync(Next("c1", lastEventId: 6) with { Events = [Event(6)], PruneEventsBefore = 4 });

        Assert.Equal([Event(4), Event(5), Event(6)], await _store.ReadEventsAsync("c1", 0, 100));
        Assert.Equal(4, (await _store.LoadAsync("c1"))!.FirstStoredEventId);

        await _store.CommitAsync(Next("c1", lastEventId: 6) with { PruneEventsBefore = 7 });
        Assert.Equal(7, (await _store.LoadAsync("c1"))!.FirstStoredEventId);
    }

    [Fact]
    public async Task The_conversation_row_keeps_its_info_and_each_commit_moves_its_activity()
    {
        await _store.CommitAsync(Create("old", lastEventId: 0) with { Members = [Joined("alice", "Alice")] });
        await _store.CommitAsync(Create("new", lastEventId: 0) with { Members = [Joined("alice", "Alice")], LastActivityAt = T0.AddHours(1) });
        // Activity in "old" after "new" was created moves its activity past the newer one's.
        await _store.CommitAsync(Next("old", lastEventId: 1) with { Events = [Event(1)], LastActivityAt = T0.AddHours(3) });

        var old = (await _store.LoadAsync("old"))!;
        Assert.Equal((new ConversationInfo("old", "Title old", "alice", T0), T0.AddHours(3)), (old.Info, old.LastActivityAt));
        Assert.Equal(T0.AddHours(1), (await _store.LoadAsync("new"))!.LastActivityAt);
    }

    [Fact]
    public async Task A_new_store_on_the_same_storage_sees_everything_committed_before_shutdown()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 2) with { Events = [Event(1), Event(2)], Members = [Joined("alice", "Alice")] });
        await _store.DisposeAsync();

        _store = await OpenStoreAsync();

        Assert.Equal(2, (await _store.LoadAsync("c1"))!.LastEventId);
        Assert.Equal([Event(1), Event(2)], await _store.ReadEventsAsync("c1", 0, 100));
        Assert.Equal([Joined("alice", "Alice")], (await _store.LoadAsync("c1"))!.Members);
    }

    [Fact]
    public async Task Commits_queued_back_to_back_land_as_if_written_one_by_one()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 0) with { Members = [Joined("alice", "Alice")] });
        var reply = new Message("m2", Roles.Assistant, "bot", "Bot", "", MessageStatus.Streaming, "m1", T0);
        var done = reply with { Content = "Hi", Status = MessageStatus.Complete };

        // Not awaited in between, and queued behind a large commit to the same conversation that
        // keeps its writer busy, so they share one batch: the later version of a message wins
        // but keeps its place, a member who joins twice is listed once, the last head wins.
        var busy = _store.CommitAsync(Next("c1", lastEventId: 5000) with { Events = [.. Enumerable.Range(1, 5000).Select(i => Event(i))] });
        Task[] commits =
        [
            _store.CommitAsync(Next("c1", lastEventId: 5001) with
            {
                Events = [Event(5001)],
                Members = [Joined("bob", "Bob")],
                Messages = [new StoredMessage(reply, 5001, 0), new StoredMessage(UserMessage("m1", "hello"), 1, 0)],
            }),
            _store.CommitAsync(Next("c1", lastEventId: 5002) with
            {
                Events = [Event(5002)],
                Members = [Joined("bob", "Bob again"), Joined("carol", "Carol")],
                Messages = [new StoredMessage(done, 5001, 5002)],
            }),
            _store.CommitAsync(Next("c1", lastEventId: 5003) with { Events = [Event(5003)], LastActivityAt = T0.AddMinutes(2) }),
        ];
        await busy;
        await Task.WhenAll(commits);

        var c1 = await _store.LoadAsync("c1");
        Assert.Equal([Joined("alice", "Alice"), Joined("bob", "Bob"), Joined("carol", "Carol")], c1!.Members);
        Assert.Equal([new StoredMessage(UserMessage("m1", "hello"), 1, 0), new StoredMessage(done, 5001, 5002)], c1.Messages);
        Assert.Equal(5003, c1.LastEventId);
        Assert.Equal(T0.AddMinutes(2), c1.LastActivityAt);
        Assert.Equal(Enumerable.Range(1, 5003).Select(i => (long)i), (await _store.ReadEventsAsync("c1", 0, 10_000)).Select(e => e.Id));
    }

    [Fact]
    public async Task Creating_a_conversation_again_fails_even_when_written_together_with_a_commit_to_it()
    {
        await _store.CommitAsync(Create("c1", lastEventId: 0));

        var busy = KeepEveryWriterBusy();
        var next = _store.CommitAsync(Next("c1", lastEventId: 1) with { Events = [Event(1)] });
        var again = _store.CommitAsync(Create("c1", lastEventId: 0) with { Created = new ConversationInfo("c1", "Other title", "bob", T0) });

        var error = await Assert.ThrowsAnyAsync<DbException>(() => again);
        Assert.True(IsDuplicateKey(error), $"Expected a duplicate-key error, got: {error.Message}");
        await next;
        await busy;
        var c1 = await _store.LoadAsync("c1");
        Assert.Equal(("Title c1", 1L), (c1!.Info.Title, c1.LastEventId));
    }

    [Fact]
    public async Task Two_hundred_concurrent_commits_from_twenty_conversations_all_land()
    {
        var ids = Enumerable.Range(0, 20).Select(i => $"c{i}").ToArray();
        await Task.WhenAll(ids.Select(id => _store.CommitAsync(Create(id, lastEventId: 0))));

        // Queued without waiting, as grains do across conversations; each conversation's own
        // commits are queued in order, as one grain would issue them.
        var commits = new List<Task>();
        for (var round = 0; round < 10; round++)
        {
            foreach (var id in ids)
            {
                var events = Enumerable.Range(round * 5 + 1, 5).Select(i => Event(i)).ToList();
                commits.Add(_store.CommitAsync(Next(id, lastEventId: events[^1].Id) with { Events = events }));
            }
        }
        await Task.WhenAll(commits);

        foreach (var id in ids)
        {
            Assert.Equal(50, (await _store.LoadAsync(id))!.LastEventId);
            Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), (await _store.ReadEventsAsync(id, 0, 100)).Select(e => e.Id));
        }
    }

    /// <summary>
    /// Large commits to several conversations, so that every writer (a store may have more than
    /// one, each for some of the conversations) is busy and the commits queued right after this
    /// wait together and are written as one batch.
    /// </summary>
    private Task KeepEveryWriterBusy() =>
        Task.WhenAll(Enumerable.Range(0, 8).Select(i => _store.CommitAsync(
            Create($"busy{i}", lastEventId: 2000) with { Events = [.. Enumerable.Range(1, 2000).Select(n => Event(n))] })));

    private static ConversationCommit Create(string id, long lastEventId) =>
        new(id, new ConversationInfo(id, $"Title {id}", "alice", T0), [], [], [], [], [], lastEventId, T0);

    private static ConversationCommit Next(string id, long lastEventId) =>
        new(id, null, [], [], [], [], [], lastEventId, T0.AddMinutes(1));

    private static ConversationEvent Event(long id) => new(id, EventTypes.MessageDelta, $$"""{"n":{{id}}}""");

    private static Message UserMessage(string id, string content) =>
        new(id, Roles.User, "alice", "Alice", content, MessageStatus.Complete, null, T0);
}
