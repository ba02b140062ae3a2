using System.Data.Common;
using ChatGrains.Storage;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Tests.Storage;

/// <summary>The SQLite store against a real database file in a temporary directory.</summary>
[Trait("Category", TestCategory.Store)]
public sealed class SqliteConversationStoreTests : ConversationStoreContract<SqliteConversationStore>
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "chatgrains-store-" + Guid.NewGuid().ToString("N"));

    protected override async Task<SqliteConversationStore> OpenStoreAsync()
    {
        // A nested path on purpose: the store creates the file's directory.
        var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = Path.Combine(_directory, "nested", "chat.db") });
        await store.InitializeAsync();
        return store;
    }

    // The default: every commit syncs the WAL before it is acknowledged.
    protected override StoreDurability ExpectedDurability { get; } = new(true, "journal_mode=wal synchronous=full");

    [Fact]
    public async Task Synchronous_normal_is_reported_as_not_waiting_for_the_disk()
    {
        await using var store = new SqliteConversationStore(new SqliteStoreOptions
        {
            DataSource = Path.Combine(_directory, "normal.db"),
            Synchronous = SqliteSynchronous.Normal,
        });
        await store.InitializeAsync();

        Assert.Equal(new StoreDurability(false, "journal_mode=wal synchronous=normal"), await store.ReadDurabilityAsync());
    }

    [Fact]
    public async Task The_writer_runs_with_the_page_cache_and_checkpoint_interval_it_is_given()
    {
        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = Path.Combine(_directory, "tuned.db") });
        await store.InitializeAsync();
        // The defaults, not SQLite's own (2 MiB, 1,000 pages).
        Assert.Equal(new SqliteConversationStore.WriterTuning(64 * 1024, 10_000), store.Tuning);

        await using var small = new SqliteConversationStore(new SqliteStoreOptions
        {
            DataSource = Path.Combine(_directory, "small.db"),
            WriterCacheMegabytes = 3,
            CheckpointPages = 500,
        });
        await small.InitializeAsync();
        Assert.Equal(new SqliteConversationStore.WriterTuning(3 * 1024, 500), small.Tuning);
    }

    protected override bool IsDuplicateKey(DbException error) =>
        error is SqliteException { SqliteExtendedErrorCode: 1555 }; // SQLITE_CONSTRAINT_PRIMARYKEY

    protected override async Task<long> RowsOfAsync(string conversationId)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "nested", "chat.db")}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT (SELECT count(*) FROM conversations WHERE id = $c)
                 + (SELECT count(*) FROM members WHERE conversation_id = $c) + (SELECT count(*) FROM messages WHERE conversation_id = $c)
                 + (SELECT count(*) FROM events WHERE conversation_id = $c) + (SELECT count(*) FROM invites WHERE conversation_id = $c)
                 + (SELECT count(*) FROM idempotency_keys WHERE conversation_id = $c)
            """;
        command.Parameters.AddWithValue("$c", conversationId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
