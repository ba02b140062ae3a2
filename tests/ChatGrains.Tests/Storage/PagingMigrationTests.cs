using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// Schema migration 7 on a database written before it (migrations 1 to 6): idempotency keys gain
/// the time they were stored, which for keys from before is the migration's (so each is kept for a
/// retention from then), and a window of such a conversation loads with its open reply.
/// </summary>
[Trait("Category", TestCategory.Store)]
public sealed class PagingMigrationTests
{
    private const string OldRows = """
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id, head_message_id)
        VALUES ('c1', 'Old', 'ada', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', 6, 'r3');
        INSERT INTO members (conversation_id, user_id, name, joined_at, role) VALUES ('c1', 'ada', 'Ada', '2026-01-01T00:00:00.0000000Z', 'owner');
        INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id, author_name, content, status, reply_to, created_at, parent_id, requested_by)
        VALUES ('c1', 'p1', 1, 0, 'user', 'ada', 'Ada', 'one', 'complete', NULL, '2026-01-01T00:00:00.0000000Z', NULL, NULL),
               ('c1', 'r1', 2, 3, 'assistant', 'assistant', 'Assistant', 'A1', 'complete', 'p1', '2026-01-01T00:00:00.0000000Z', 'p1', 'ada'),
               ('c1', 'p2', 4, 0, 'user', 'ada', 'Ada', 'two', 'complete', NULL, '2026-01-01T00:00:00.0000000Z', 'r1', NULL),
               ('c1', 'r2', 5, 0, 'assistant', 'assistant', 'Assistant', '', 'streaming', 'p2', '2026-01-01T00:00:00.0000000Z', 'p2', 'ada'),
               ('c1', 'p3', 6, 0, 'user', 'ada', 'Ada', 'three', 'complete', NULL, '2026-01-01T00:00:00.0000000Z', 'r2', NULL),
               ('c1', 'r3', 7, 0, 'assistant', 'assistant', 'Assistant', '', 'queued', 'p3', '2026-01-01T00:00:00.0000000Z', 'p3', 'ada');
        INSERT INTO idempotency_keys (conversation_id, user_id, key, content_hash, user_message_id, assistant_message_id, event_id)
        VALUES ('c1', 'ada', 'k1', 'hash', 'p1', 'r1', 1);
        """;

    private static async Task AssertMigratedAsync(IConversationStore store, DateTimeOffset migrated)
    {
        var key = await store.ReadKeyAsync("c1", "ada", "k1", migrated.AddHours(-24));
        var window = await store.LoadAsync("c1", new LoadWindow(1, 10, migrated.AddHours(-24)));

        Assert.NotNull(key);
        Assert.InRange(key.CreatedAt, migrated.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(new PostReceiptIds("p1", "r1", 1), key.Exchange);
        Assert.Equal(["p2", "r2", "p3", "r3"], window!.Messages.Select(m => m.Message.Id));
        Assert.Equal(1, window.FirstMessageEventId);
        Assert.Equal(["k1"], window.IdempotencyKeys.Select(k => k.Key));
        Assert.Equal(["p1", "r1", "p2", "r2", "p3"], (await store.ReadPathAsync("c1", "p3")).Select(m => m.Message.Id));
    }

    [Fact]
    public async Task Sqlite_migration_7_keeps_the_keys_from_the_migration_on_and_loads_a_window()
    {
        using var directory = new TempDirectory();
        var file = directory.File("old.db");
        await OldSchema.WriteSqliteAsync(file, 6, OldRows);
        var migrated = DateTimeOffset.UtcNow;

        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = file });
        await store.InitializeAsync();

        await AssertMigratedAsync(store, migrated);
    }

    [Fact]
    public async Task Postgres_migration_7_keeps_the_keys_from_the_migration_on_and_loads_a_window()
    {
        var connectionString = await OldSchema.WritePostgresAsync(6, OldRows);
        var migrated = DateTimeOffset.UtcNow;

        await using var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = connectionString });
        await store.InitializeAsync();

        await AssertMigratedAsync(store, migrated);
    }
}
