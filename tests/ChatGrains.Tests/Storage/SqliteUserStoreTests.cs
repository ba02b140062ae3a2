using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>The SQLite user store on a real database file, beside the conversation store that migrates it.</summary>
[Trait("Category", TestCategory.Store)]
public sealed class SqliteUserStoreTests : UserStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "chatgrains-users-" + Guid.NewGuid().ToString("N"));
    private SqliteConversationStore? _conversations;
    private SqliteUserStore? _users;

    protected override async Task OpenStoresAsync()
    {
        var options = new SqliteStoreOptions { DataSource = Path.Combine(_directory, "chat.db") };
        _conversations = new SqliteConversationStore(options);
        await _conversations.InitializeAsync();
        Conversations = _conversations;
        Users = _users = new SqliteUserStore(options);
    }

    protected override async Task CloseStoresAsync()
    {
        if (_users is not null) await _users.DisposeAsync();
        if (_conversations is not null) await _conversations.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
