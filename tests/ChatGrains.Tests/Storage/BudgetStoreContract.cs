using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// What both stores must do for token budgets: a reply's payer is kept with it, its charge is
/// written with its completion, once, and summed per user and UTC day; run against SQLite and
/// PostgreSQL by thin subclasses.
/// </summary>
public abstract class BudgetStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2031, 3, 4, 23, 0, 0, TimeSpan.Zero);
    private static readonly DateOnly Day = new(2031, 3, 4);

    protected IConversationStore Conversations { get; set; } = null!;

    protected IUserStore Users { get; set; } = null!;

    protected abstract Task OpenStoresAsync();

    protected abstract Task CloseStoresAsync();

    public Task InitializeAsync() => OpenStoresAsync();

    public Task DisposeAsync() => CloseStoresAsync();

    [Fact]
    public async Task Charges_are_summed_per_user_and_UTC_day_and_a_reply_is_charged_only_once()
    {
        await CreateAsync("c1");
        await ChargeAsync("c1", 2, new UsageCharge("r1", "bob", Day, "c1", new Usage(100, 20)));
        await ChargeAsync("c1", 3, new UsageCharge("r2", "bob", Day, "c1", new Usage(150, 30)), new UsageCharge("r3", "ada", Day, "c1", new Usage(7, 8)));
        await ChargeAsync("c1", 4, new UsageCharge("r4", "bob", Day.AddDays(1), "c1", new Usage(1, 2)));
        // The same reply again (a second activation, say) changes nothing.
        await ChargeAsync("c1", 5, new UsageCharge("r1", "bob", Day, "c1", new Usage(1000, 1000)));

        Assert.Equal(new Usage(250, 50), await Users.ReadUsageAsync("bob", Day));
        Assert.Equal(new Usage(1, 2), await Users.ReadUsageAsync("bob", Day.AddDays(1)));
        Assert.Equal(new Usage(7, 8), await Users.ReadUsageAsync("ada", Day));
        Assert.Equal(new Usage(0, 0), await Users.ReadUsageAsync("carol", Day));
    }

    [Fact]
    public async Task The_payer_is_kept_with_the_reply_and_charges_outlive_a_deleted_conversation()
    {
        await CreateAsync("c1");
        var prompt = new Message("p1", Roles.User, "ada", "Ada", "hi", MessageStatus.Complete, null, T0);
        var reply = new Message("a1", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Queued, "p1", T0);
        await Conversations.CommitAsync(new ConversationCommit("c1", null, [Event(2), Event(3)], [],
            [new StoredMessage(prompt, 2, 0), new StoredMessage(reply, 3, 0, "bob")], [], [], 3, T0));
        Assert.Equal("bob", (await Conversations.LoadAsync("c1"))!.Messages.Single(m => m.Message.Id == "a1").RequestedBy);

        // Deleted while it ran: its completion and its charge are in the deleting commit.
        await Conversations.CommitAsync(new ConversationCommit("c1", null, [Event(4), Event(5)], [],
            [new StoredMessage(reply with { Status = MessageStatus.Cancelled, Usage = new Usage(40, 2) }, 3, 4, "bob")], [], [], 5, T0,
            Delete: true, Charges: [new UsageCharge("a1", "bob", Day, "c1", new Usage(40, 2))]));

        Assert.Null(await Conversations.LoadAsync("c1"));
        Assert.Equal(new Usage(40, 2), await Users.ReadUsageAsync("bob", Day));
    }

    private Task CreateAsync(string id) =>
        Conversations.CommitAsync(new ConversationCommit(id, new ConversationInfo(id, "Budget", "ada", T0), [Event(1)],
            [new StoredMember(new Member("ada", "Ada", MemberRoles.Owner), 0)], [], [], [], 1, T0));

    private Task ChargeAsync(string id, long eventId, params UsageCharge[] charges) =>
        Conversations.CommitAsync(new ConversationCommit(id, null, [Event(eventId)], [], [], [], [], eventId, T0, Charges: charges));

    private static ConversationEvent Event(long id) => new(id, EventTypes.ConversationUpdated, $$"""{"title":"t{{id}}"}""");

    /// <summary>The migrations before budgets (1–4), as a database written by the previous schema has them.</summary>
    // A prompt of Ada's and its reply, queued when the service stopped, written before budgets.
    internal const string OldRows = """
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
        VALUES ('c1', 'Old', 'ada', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', 2);
        INSERT INTO members (conversation_id, user_id, name, joined_at, role) VALUES ('c1', 'ada', 'Ada', '2026-01-01T00:00:00.0000000Z', 'owner');
        INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id, author_name, content, status, reply_to, created_at)
        VALUES ('c1', 'p1', 1, 1, 'user', 'ada', 'Ada', 'hi', 'complete', NULL, '2026-01-01T00:00:00.0000000Z');
        INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id, author_name, content, status, reply_to, created_at)
        VALUES ('c1', 'a1', 2, 0, 'assistant', 'assistant', 'Assistant', '', 'queued', 'p1', '2026-01-01T00:00:00.0000000Z');
        """;

    internal static void AssertMigrated(StoredConversation? stored)
    {
        Assert.NotNull(stored);
        Assert.Equal([null, "ada"], stored.Messages.Select(m => m.RequestedBy));
    }
}

[Trait("Category", TestCategory.Store)]
public sealed class SqliteBudgetStoreTests : BudgetStoreContract
{
    private readonly TempDirectory _directory = new();
    private SqliteConversationStore? _conversations;
    private SqliteUserStore? _users;

    protected override async Task OpenStoresAsync()
    {
        var options = new SqliteStoreOptions { DataSource = _directory.File("chat.db") };
        _conversations = new SqliteConversationStore(options);
        await _conversations.InitializeAsync();
        Conversations = _conversations;
        Users = _users = new SqliteUserStore(_conversations);
    }

    protected override async Task CloseStoresAsync()
    {
        if (_users is not null) await _users.DisposeAsync();
        if (_conversations is not null) await _conversations.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Migration_6_gives_existing_replies_their_prompts_author_as_payer()
    {
        var file = _directory.File("old.db");
        await OldSchema.WriteSqliteAsync(file, 4, OldRows);

        await using var store = new SqliteConversationStore(new SqliteStoreOptions { DataSource = file });
        await store.InitializeAsync();

        AssertMigrated(await store.LoadAsync("c1"));
    }
}

[Trait("Category", TestCategory.Store)]
public sealed class PostgresBudgetStoreTests : BudgetStoreContract
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

    [Fact]
    public async Task Migration_6_gives_existing_replies_their_prompts_author_as_payer()
    {
        var connectionString = await OldSchema.WritePostgresAsync(4, OldRows);

        await using var store = new PostgresConversationStore(new PostgresStoreOptions { ConnectionString = connectionString });
        await store.InitializeAsync();

        AssertMigrated(await store.LoadAsync("c1"));
    }
}
