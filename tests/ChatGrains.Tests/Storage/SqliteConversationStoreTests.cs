using System.Data.Common;
using ChatGrains.Storage;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Tests.Storage;

/// <summary>The SQLite store against a real database file in a temporary directory.</summary>
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

    protected override bool IsDuplicateKey(DbException error) =>
        error is SqliteException { SqliteExtendedErrorCode: 1555 }; // SQLITE_CONSTRAINT_PRIMARYKEY

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
