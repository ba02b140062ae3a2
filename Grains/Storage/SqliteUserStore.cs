using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The users' data in the embedded SQLite file. Its writes are few (a read position, a user
/// event now and then), so they do not join the conversation store's group-commit loop: each is
/// one short IMMEDIATE transaction on a pooled connection, taken one at a time here, and SQLite's
/// busy timeout lets it wait its turn behind the conversation writer.
/// </summary>
public sealed class SqliteUserStore(SqliteStoreOptions options) : IUserStore
{
    private static readonly string ItemsSql = UserQueries.Items("max", i => i == 1 ? "$u" : "$c");
    private readonly SemaphoreSlim _writer = new(1, 1);

    public async Task<IReadOnlyList<ConversationListItem>> ListAsync(string userId, CancellationToken cancellationToken = default) =>
        await ReadItemsAsync(userId, null, cancellationToken);

    public async Task<UserConversation> FindAsync(string userId, string conversationId, CancellationToken cancellationToken = default)
    {
        var items = await ReadItemsAsync(userId, conversationId, cancellationToken);
        if (items.Count > 0) return new UserConversation(items[0], true);
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM conversations WHERE id = $c";
        command.Parameters.AddWithValue("$c", conversationId);
        return new UserConversation(null, await command.ExecuteScalarAsync(cancellationToken) is not null);
    }

    public Task SaveReadPositionAsync(string userId, string conversationId, long lastEventId, CancellationToken cancellationToken = default) =>
        WriteAsync(transaction =>
        {
            using var command = Command(transaction, """
                INSERT INTO read_positions (user_id, conversation_id, last_read_event_id) VALUES ($u, $c, $e)
                ON CONFLICT (user_id, conversation_id) DO UPDATE
                   SET last_read_event_id = max(last_read_event_id, excluded.last_read_event_id)
                """);
            command.Parameters.AddWithValue("$u", userId);
            command.Parameters.AddWithValue("$c", conversationId);
            command.Parameters.AddWithValue("$e", lastEventId);
            command.ExecuteNonQuery();
        }, cancellationToken);

    public async Task<StoredUserLog> LoadLogAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT coalesce(max(id), 0), coalesce(min(id), 0) FROM user_events WHERE user_id = $u;
            SELECT item FROM user_list WHERE user_id = $u ORDER BY rowid;
            """;
        command.Parameters.AddWithValue("$u", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (last, first) = (reader.GetInt64(0), reader.GetInt64(1));
        await reader.NextResultAsync(cancellationToken);
        var listed = new List<ConversationListItem>();
        while (await reader.ReadAsync(cancellationToken)) listed.Add(UserQueries.FromJson(reader.GetString(0)));
        return new StoredUserLog(listed, last, first == 0 ? last + 1 : first);
    }

    public Task CommitAsync(UserCommit commit, CancellationToken cancellationToken = default) =>
        WriteAsync(transaction =>
        {
            // A plain INSERT: a duplicate (user, id) throws and rolls the whole commit back.
            foreach (var e in commit.Events)
            {
                using var insert = Command(transaction, "INSERT INTO user_events (user_id, id, type, data) VALUES ($u, $id, $type, $data)");
                insert.Parameters.AddWithValue("$u", commit.UserId);
                insert.Parameters.AddWithValue("$id", e.Id);
                insert.Parameters.AddWithValue("$type", e.Type);
                insert.Parameters.AddWithValue("$data", e.Data);
                insert.ExecuteNonQuery();
            }
            foreach (var item in commit.Listed)
            {
                using var upsert = Command(transaction, """
                    INSERT INTO user_list (user_id, conversation_id, item) VALUES ($u, $c, $item)
                    ON CONFLICT (user_id, conversation_id) DO UPDATE SET item = excluded.item
                    """);
                upsert.Parameters.AddWithValue("$u", commit.UserId);
                upsert.Parameters.AddWithValue("$c", item.Id);
                upsert.Parameters.AddWithValue("$item", UserQueries.ToJson(item));
                upsert.ExecuteNonQuery();
            }
            foreach (var conversationId in commit.Unlisted)
            {
                using var delete = Command(transaction, """
                    DELETE FROM user_list WHERE user_id = $u AND conversation_id = $c;
                    DELETE FROM read_positions WHERE user_id = $u AND conversation_id = $c;
                    """);
                delete.Parameters.AddWithValue("$u", commit.UserId);
                delete.Parameters.AddWithValue("$c", conversationId);
                delete.ExecuteNonQuery();
            }
            if (commit.PruneEventsBefore > 0)
            {
                using var prune = Command(transaction, "DELETE FROM user_events WHERE user_id = $u AND id < $before");
                prune.Parameters.AddWithValue("$u", commit.UserId);
                prune.Parameters.AddWithValue("$before", commit.PruneEventsBefore);
                prune.ExecuteNonQuery();
            }
        }, cancellationToken);

    public async Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string userId, long afterId, int max, CancellationToken cancellationToken = default)
    {
        if (max <= 0) return [];
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, data FROM user_events WHERE user_id = $u AND id > $after ORDER BY id LIMIT $max";
        command.Parameters.AddWithValue("$u", userId);
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$max", max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<ConversationEvent>();
        while (await reader.ReadAsync(cancellationToken))
            events.Add(new ConversationEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return events;
    }

    private async Task<List<ConversationListItem>> ReadItemsAsync(string userId, string? conversationId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = ItemsSql;
        command.Parameters.AddWithValue("$u", userId);
        command.Parameters.AddWithValue("$c", (object?)conversationId ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await UserQueries.ReadItemsAsync(reader, static (r, i) => FromText(r.GetString(i)), cancellationToken);
    }

    private async Task WriteAsync(Action<SqliteTransaction> write, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            using (var pragma = connection.CreateCommand())
            {
                // Per connection, as for the conversation writer: FULL syncs the log at every commit.
                pragma.CommandText = $"PRAGMA synchronous = {(int)options.Synchronous}";
                pragma.ExecuteNonQuery();
            }
            // IMMEDIATE: take the write lock now (waiting out the conversation writer) rather
            // than fail half-way on a busy upgrade.
            using var transaction = connection.BeginTransaction(deferred: false);
            write(transaction);
            transaction.Commit();
        }
        finally
        {
            _writer.Release();
        }
    }

    private static SqliteCommand Command(SqliteTransaction transaction, string sql)
    {
        var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static DateTimeOffset FromText(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
