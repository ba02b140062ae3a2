using System.Data.Common;
using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;
using Npgsql;

namespace ChatGrains.Tests.Storage;

/// <summary>The PostgreSQL store against a fresh database per test on the shared throwaway server.</summary>
[Trait("Category", TestCategory.Store)]
public sealed class PostgresConversationStoreTests : ConversationStoreContract<PostgresConversationStore>
{
    private string? _connectionString;

    protected override async Task<PostgresConversationStore> OpenStoreAsync()
    {
        _connectionString ??= await (await PostgresServer.Shared).CreateDatabaseAsync();
        var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = _connectionString });
        await store.InitializeAsync();
        return store;
    }

    // The throwaway server runs with fsync=off (PostgresServer), and the store must say so;
    // synchronous_commit is the server's default, which the store's sessions keep.
    protected override StoreDurability ExpectedDurability { get; } = new(false, "synchronous_commit=on fsync=off");

    [Fact]
    public async Task A_database_set_to_synchronous_commit_off_is_reported()
    {
        var connectionString = await (await PostgresServer.Shared).CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using (var admin = new NpgsqlConnection((await PostgresServer.Shared).ConnectionString))
        {
            await admin.OpenAsync();
            await using var alter = new NpgsqlCommand($"ALTER DATABASE {database} SET synchronous_commit = off", admin);
            await alter.ExecuteNonQueryAsync();
        }
        await using var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = connectionString });
        await store.InitializeAsync();

        Assert.Equal(new StoreDurability(false, "synchronous_commit=off fsync=off"), await store.ReadDurabilityAsync());
    }

    protected override bool IsDuplicateKey(DbException error) =>
        error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override async Task<long> RowsOfAsync(string conversationId)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM conversations WHERE id = $1)
                 + (SELECT count(*) FROM members WHERE conversation_id = $1) + (SELECT count(*) FROM messages WHERE conversation_id = $1)
                 + (SELECT count(*) FROM events WHERE conversation_id = $1) + (SELECT count(*) FROM invites WHERE conversation_id = $1)
                 + (SELECT count(*) FROM idempotency_keys WHERE conversation_id = $1)
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversationId });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
