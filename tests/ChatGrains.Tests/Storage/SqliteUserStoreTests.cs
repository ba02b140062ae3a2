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
        Users = _users = new SqliteUserStore(_conversations);
    }

    protected override async Task CloseStoresAsync()
    {
        if (_users is not null) await _users.DisposeAsync();
        if (_conversations is not null) await _conversations.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>
    /// SQLite's <c>data_version</c> changes for a connection when another connection has committed
    /// to the file, and SQLite then drops that connection's page cache: the conversation writer's
    /// must survive the user store's writes, so they go through the same connection.
    /// </summary>
    [Fact]
    public async Task The_users_writes_go_through_the_conversation_writer_so_its_page_cache_is_kept()
    {
        await Users.CommitAsync(new UserCommit("alice", [new ConversationEvent(1, UserEventTypes.ConversationUpdated, "{}")], [], []));
        var before = DataVersion();

        await Users.SaveReadPositionAsync("alice", "c1", 5);
        await Users.CommitAsync(new UserCommit("alice", [new ConversationEvent(2, UserEventTypes.ConversationUpdated, "{}")], [], []));

        Assert.Equal(before, DataVersion());
        Assert.Equal([1L, 2L], (await Users.ReadEventsAsync("alice", 0, 10)).Select(e => e.Id));
    }

    private long DataVersion() => _conversations!.OnWriter(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA data_version";
        return (long)command.ExecuteScalar()!;
    });
}
