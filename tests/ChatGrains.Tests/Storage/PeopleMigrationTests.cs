using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// Schema migration 3 on a database written before it (migrations 1 and 2 only): the owner is
/// found from owner_id, a member's start from their stored member.joined, and invites have no limits.
/// </summary>
[Trait("Category", TestCategory.Store)]
public sealed class PeopleMigrationTests
{
    // Rows as the service wrote them before roles: Ada created it, Bob joined with event 1.
    private const string OldRows = """
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
        VALUES ('c1', 'Old', 'ada', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', 2);
        INSERT INTO members (conversation_id, user_id, name, joined_at) VALUES ('c1', 'ada', 'Ada', '2026-01-01T00:00:00.0000000Z');
        INSERT INTO members (conversation_id, user_id, name, joined_at) VALUES ('c1', 'bob', 'Bob', '2026-01-01T00:00:00.0000000Z');
        INSERT INTO events (conversation_id, id, type, data) VALUES ('c1', 1, 'member.joined', '{"userId":"bob","name":"Bob"}');
        INSERT INTO events (conversation_id, id, type, data) VALUES ('c1', 2, 'message.delta', 'not json at all');
        INSERT INTO invites (conversation_id, token, created_by, created_at) VALUES ('c1', 'tok', 'ada', '2026-01-01T00:00:00.0000000Z');
        """;

    private static void AssertMigrated(StoredConversation? stored)
    {
        Assert.NotNull(stored);
        Assert.Equal(
            [new StoredMember(new Member("ada", "Ada", MemberRoles.Owner), 0), new StoredMember(new Member("bob", "Bob", MemberRoles.Member), 1)],
            stored.Members);
        var invite = Assert.Single(stored.Invites);
        Assert.Equal((null, null, 0, false), (invite.ExpiresAt, invite.MaxUses, invite.Uses, invite.Revoked));
    }

    [Fact]
    public async Task Sqlite_migration_3_gives_existing_members_their_roles_and_joined_events()
    {
        using var directory = new TempDirectory();
        var file = directory.File("old.db");
        await OldSchema.WriteSqliteAsync(file, 2, OldRows);

        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = file });
        await store.InitializeAsync();

        AssertMigrated(await store.LoadAsync("c1"));
    }

    [Fact]
    public async Task Postgres_migration_3_gives_existing_members_their_roles_and_joined_events()
    {
        var connectionString = await OldSchema.WritePostgresAsync(2, OldRows);

        await using var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = connectionString });
        await store.InitializeAsync();

        AssertMigrated(await store.LoadAsync("c1"));
    }
}
