using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// Schema migration 5 on a database written before it (migrations 1 to 4): a stored conversation
/// was one thread, so each message's parent is the one stored before it (an assistant message's,
/// the prompt it replies to) and the head is the last assistant message.
/// </summary>
[Trait("Category", TestCategory.Store)]
public sealed class TreeMigrationTests
{
    // A flat conversation as the service wrote it before the tree: two exchanges, the second
    // posted while the first reply streamed (so its prompt was stored before that reply ended),
    // and a third prompt whose reply is still queued. The events are not needed for the tree.
    private const string OldRows = """
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
        VALUES ('c1', 'Old', 'ada', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', 9);
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
        VALUES ('empty', 'Empty', 'ada', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', 0);
        INSERT INTO members (conversation_id, user_id, name, joined_at, role) VALUES ('c1', 'ada', 'Ada', '2026-01-01T00:00:00.0000000Z', 'owner');
        INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id, author_name, content, status, reply_to, created_at)
        VALUES ('c1', 'p1', 1, 0, 'user', 'ada', 'Ada', 'one', 'complete', NULL, '2026-01-01T00:00:00.0000000Z'),
               ('c1', 'r1', 2, 6, 'assistant', 'assistant', 'Assistant', 'A1', 'complete', 'p1', '2026-01-01T00:00:00.0000000Z'),
               ('c1', 'p2', 4, 0, 'user', 'ada', 'Ada', 'two', 'complete', NULL, '2026-01-01T00:00:00.0000000Z'),
               ('c1', 'r2', 5, 8, 'assistant', 'assistant', 'Assistant', 'A2', 'complete', 'p2', '2026-01-01T00:00:00.0000000Z'),
               ('c1', 'p3', 9, 0, 'user', 'ada', 'Ada', 'three', 'complete', NULL, '2026-01-01T00:00:00.0000000Z'),
               ('c1', 'r3', 10, 0, 'assistant', 'assistant', 'Assistant', '', 'queued', 'p3', '2026-01-01T00:00:00.0000000Z');
        """;

    private static async Task AssertMigratedAsync(IConversationStore store)
    {
        var stored = await store.LoadAsync("c1");
        Assert.NotNull(stored);
        Assert.Equal([("p1", null), ("r1", "p1"), ("p2", "r1"), ("r2", "p2"), ("p3", "r2"), ("r3", "p3")],
            stored.Messages.Select(m => (m.Message.Id, m.Message.ParentId)));
        Assert.Equal("r3", stored.Head);
        Assert.Null((await store.LoadAsync("empty"))!.Head);
    }

    [Fact]
    public async Task Sqlite_migration_5_derives_the_tree_and_the_head_from_the_stored_order()
    {
        using var directory = new TempDirectory();
        var file = directory.File("old.db");
        await OldSchema.WriteSqliteAsync(file, 4, OldRows);

        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = file });
        await store.InitializeAsync();

        await AssertMigratedAsync(store);
    }

    [Fact]
    public async Task Postgres_migration_5_derives_the_tree_and_the_head_from_the_stored_order()
    {
        var connectionString = await OldSchema.WritePostgresAsync(4, OldRows);

        await using var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = connectionString });
        await store.InitializeAsync();

        await AssertMigratedAsync(store);
    }

    [Fact]
    public async Task A_conversation_loaded_from_before_the_tree_answers_along_its_one_thread()
    {
        using var directory = new TempDirectory();
        var file = directory.File("old.db");
        await OldSchema.WriteSqliteAsync(file, 4, OldRows);
        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = file });
        await store.InitializeAsync();

        var state = Conversation.ConversationState.Load((await store.LoadAsync("c1"))!);

        Assert.Equal(["p1", "r1", "p2", "r2", "p3"], state.PathTo("p3").Select(m => m.Id));
        Assert.Equal("r3", state.ToSnapshot().Head);
    }
}
