using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Storage;

/// <summary>The PostgreSQL user store against a fresh database per test on the shared throwaway server.</summary>
[Trait("Category", TestCategory.Store)]
public sealed class PostgresUserStoreTests : UserStoreContract
{
    private PostgresConversationStore? _conversations;
    private PostgresUserStore? _users;

    protected override async Task OpenStoresAsync()
    {
        var options = new PostgresStoreOptions { ConnectionString = await (await PostgresServer.Shared).CreateDatabaseAsync() };
        _conversations = new PostgresConversationStore(options);
        await _conversations.InitializeAsync();
        Conversations = _conversations;
        Users = _users = new PostgresUserStore(options);
    }

    protected override async Task CloseStoresAsync()
    {
        if (_users is not null) await _users.DisposeAsync();
        if (_conversations is not null) await _conversations.DisposeAsync();
    }
}
