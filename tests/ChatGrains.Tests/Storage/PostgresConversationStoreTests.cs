using System.Data.Common;
using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;
using Npgsql;

namespace ChatGrains.Tests.Storage;

/// <summary>The PostgreSQL store against a fresh database per test on the shared throwaway server.</summary>
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

    protected override bool IsDuplicateKey(DbException error) =>
        error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}
