using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The users' data in the embedded SQLite file, beside the conversations (whose store creates and
/// migrates the schema). Its writes (read positions, user events) are group-committed by a loop
/// of their own, with the conversation store's writer connection
/// (<see cref="SqliteConversationStore.OnWriter"/>), taking turns with that store's commits:
/// a second connection writing the file would make SQLite drop the conversation writer's page
/// cache at every one of its commits. Sharing the conversation store's queue as well would couple
/// the two stores' commit records. Reads open pooled connections (WAL).
/// </summary>
public sealed class SqliteUserStore(SqliteConversationStore conversations) : IUserStore, IAsyncDisposable
{
    private static readonly string ItemsSql = UserQueries.Items("max", i => i == 1 ? "$u" : "$c");
    private const int MaxBatch = 256;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _writeLoop;

    public async Task<IReadOnlyList<ConversationListItem>> ListAsync(string userId, CancellationToken cancellationToken = default) =>
        await ReadItemsAsync(userId, null, cancellationToken);

    public async Task<UserConversation> FindAsync(string userId, string conversationId, CancellationToken cancellationToken = default)
    {
        var items = await ReadItemsAsync(userId, conversationId, cancellationToken);
        if (items.Count > 0) return new UserConversation(items[0], true);
        await using var connection = await conversations.OpenReaderAsync(cancellationToken);
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
        await using var connection = await conversations.OpenReaderAsync(cancellationToken);
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
            foreach (var conversationId in commit.Deleted ?? [])
            {
                using var redact = Command(transaction, """
                    UPDATE user_events SET data = json_set(data, '$.title', '')
                     WHERE user_id = $u AND type <> 'conversation.removed' AND json_extract(data, '$.id') = $c
                    """);
                redact.Parameters.AddWithValue("$u", commit.UserId);
                redact.Parameters.AddWithValue("$c", conversationId);
                redact.ExecuteNonQuery();
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
        await using var connection = await conversations.OpenReaderAsync(cancellationToken);
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

    public async Task<Usage> ReadUsageAsync(string userId, DateOnly day, CancellationToken cancellationToken = default)
    {
        await using var connection = await conversations.OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)
              FROM usage_charges WHERE user_id = $u AND day = $day
            """;
        command.Parameters.AddWithValue("$u", userId);
        command.Parameters.AddWithValue("$day", day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new Usage(UsageSum(reader.GetInt64(0)), UsageSum(reader.GetInt64(1)));
    }

    private static int UsageSum(long sum) => (int)Math.Min(sum, int.MaxValue);

    private async Task<List<ConversationListItem>> ReadItemsAsync(string userId, string? conversationId, CancellationToken cancellationToken)
    {
        await using var connection = await conversations.OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = ItemsSql;
        command.Parameters.AddWithValue("$u", userId);
        command.Parameters.AddWithValue("$c", (object?)conversationId ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await UserQueries.ReadItemsAsync(reader, static (r, i) => FromText(r.GetString(i)), cancellationToken);
    }

    /// <summary>
    /// Queues the write for the user writer and completes when it is durable (or failed). The
    /// token is honoured only before queueing.
    /// </summary>
    private Task WriteAsync(Action<SqliteTransaction> write, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_queue) _writeLoop ??= Task.Run(WriteLoopAsync, CancellationToken.None);
        // RunContinuationsAsynchronously: callers' continuations must not run on the writer loop.
        var pending = new PendingWrite(write, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(SqliteUserStore));
        return pending.Done.Task;
    }

    /// <summary>
    /// Group commit, as the conversation store does: whatever writes are queued when the loop
    /// wakes share one IMMEDIATE transaction (one fsync), each inside its own savepoint so that a
    /// failing write (a reused event id) is undone alone and only its caller hears of it.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending)) batch.Add(pending);
            try
            {
                var errors = conversations.OnWriter(connection =>
                {
                    // IMMEDIATE, as the conversation store's commits: the file's write lock now.
                    using var transaction = connection.BeginTransaction(deferred: false);
                    var errors = new Exception?[batch.Count];
                    for (var i = 0; i < batch.Count; i++)
                    {
                        transaction.Save("w");
                        try
                        {
                            batch[i].Write(transaction);
                            transaction.Release("w");
                        }
                        catch (Exception ex)
                        {
                            transaction.Rollback("w");
                            transaction.Release("w");
                            errors[i] = ex;
                        }
                    }
                    transaction.Commit();
                    return errors;
                });
                for (var i = 0; i < batch.Count; i++)
                {
                    if (errors[i] is { } error) batch[i].Done.TrySetException(error);
                    else batch[i].Done.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch) pending.Done.TrySetException(ex);
            }
            batch.Clear();
        }
    }

    /// <summary>Stops taking writes and finishes the ones queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        Task? loop;
        lock (_queue) loop = _writeLoop;
        if (loop is not null) await loop;
    }

    private sealed record PendingWrite(Action<SqliteTransaction> Write, TaskCompletionSource Done);

    private static SqliteCommand Command(SqliteTransaction transaction, string sql)
    {
        var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static DateTimeOffset FromText(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
