using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace ChatGrains.Storage;

/// <summary>
/// The clustered conversation store. Writes go through <see cref="GroupCommit"/>: whatever
/// commits are queued when a writer wakes share one transaction, and that transaction is a
/// handful of statements whatever its size (<see cref="MergedCommits"/>: rows travel as arrays
/// and are unnested), so thousands of small commits a second cost a few round trips. Reads use
/// the pooled data source directly and never wait for a writer.
/// </summary>
public sealed class PostgresConversationStore(PostgresStoreOptions options) : IConversationStore, IAsyncDisposable
{
    // Writers work in parallel on disjoint sets of conversations (by hash of the id), so one
    // conversation's commits are still written in the order they were queued. While one waits
    // for its commit, another builds its next batch. On 2 cores two writers took about 1.5x the
    // commits of one at saturation, with the same latency at 20k events/s; four were worse.
    private const int WriterCount = 2;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(WithOutageTimeouts(options.ConnectionString));
    private GroupCommit? _commits;

    // A message row in StoredConversationReader's layout.
    private const string MessageColumns = """
        m.id, m.role, m.author_id, m.author_name, m.content, m.status, m.reply_to, m.created_at, m.error,
        m.created_event_id, m.completed_event_id, m.prompt_tokens, m.completion_tokens, m.parent_id, m.requested_by
        """;

    private const string KeyColumns = "user_id, key, content_hash, user_message_id, assistant_message_id, event_id, created_at";

    // LoadAsync's result sets, in the order it reads them; $1 is the conversation id. The window
    // ($2 messages, null for all): messages from the $2-th latest on, every open reply and its
    // prompt, the head. Keys: the latest $3 stored since $4 (nulls: all).
    private static readonly string[] LoadQueries =
    [
        """
        SELECT title, owner_id, created_at, last_event_id, last_activity_at,
               (SELECT min(id) FROM events WHERE conversation_id = $1), head_message_id,
               (SELECT min(created_event_id) FROM messages WHERE conversation_id = $1)
          FROM conversations WHERE id = $1
        """,
        "SELECT user_id, name, role, joined_event_id FROM members WHERE conversation_id = $1 ORDER BY seq",
        $"""
        SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $1
           AND ($2::integer IS NULL OR m.created_event_id >= coalesce((
                SELECT r.created_event_id FROM messages r WHERE r.conversation_id = $1
                 ORDER BY r.created_event_id DESC LIMIT 1 OFFSET coalesce($2::integer, 1) - 1), 0))
        UNION
        SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $1 AND m.status IN ('queued', 'streaming')
        UNION
        SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $1 AND m.id IN (
            SELECT o.reply_to FROM messages o WHERE o.conversation_id = $1 AND o.status IN ('queued', 'streaming')
            UNION SELECT head_message_id FROM conversations WHERE id = $1)
         ORDER BY created_event_id, id
        """,
        "SELECT token, created_by, created_at, expires_at, max_uses, uses, revoked FROM invites WHERE conversation_id = $1 ORDER BY seq",
        $"""
        SELECT {KeyColumns} FROM idempotency_keys
         WHERE conversation_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2::timestamptz)
         ORDER BY created_at DESC, seq DESC LIMIT $3::integer
        """,
    ];

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (_commits is not null) return;
        await PostgresSchema.ApplyAsync(_dataSource, cancellationToken);
        _commits = new GroupCommit(WriterCount, WriteAsync);
    }

    /// <summary>
    /// Queues the commit for its writer and completes when it is durable (or failed). The token
    /// is honoured only before queueing: a queued commit is always written and its outcome reported.
    /// </summary>
    public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_commits is null) throw new InvalidOperationException("InitializeAsync must be called before CommitAsync.");
        if (!_commits.TryEnqueue(commit, out var done)) throw new ObjectDisposedException(nameof(PostgresConversationStore));
        return done;
    }

    public Task<StoredConversation?> LoadAsync(string conversationId, LoadWindow? window = null, CancellationToken cancellationToken = default) =>
        ClearingBrokenPool(() => LoadRowsAsync(conversationId, window, cancellationToken));

    public async Task<StoredMessage?> ReadMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        (await ReadMessagesAsync($"SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $1 AND m.id = $2",
            [conversationId, messageId], cancellationToken)).SingleOrDefault();

    public Task<IReadOnlyList<StoredMessage>> ReadMessagesBeforeAsync(string conversationId, long beforeEventId, int max, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            SELECT * FROM (SELECT {MessageColumns} FROM messages m
                            WHERE m.conversation_id = $1 AND m.created_event_id < $2
                            ORDER BY m.created_event_id DESC, m.seq DESC LIMIT $3) page
             ORDER BY created_event_id, id
            """, [conversationId, beforeEventId, max], cancellationToken);

    public Task<IReadOnlyList<StoredMessage>> ReadPathAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            WITH RECURSIVE path (id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM messages WHERE conversation_id = $1 AND id = $2
                UNION ALL
                SELECT p.id, p.parent_id, path.depth + 1 FROM path JOIN messages p ON p.conversation_id = $1 AND p.id = path.parent_id)
            SELECT {MessageColumns} FROM path JOIN messages m ON m.conversation_id = $1 AND m.id = path.id
             ORDER BY path.depth DESC
            """, [conversationId, messageId], cancellationToken);

    public Task<IReadOnlyList<StoredMessage>> ReadChildrenAsync(string conversationId, string parentId, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $1 AND m.parent_id = $2
             ORDER BY m.created_event_id, m.seq
            """, [conversationId, parentId], cancellationToken);

    public Task<IdempotencyRecord?> ReadKeyAsync(string conversationId, string userId, string key, DateTimeOffset since, CancellationToken cancellationToken = default) =>
        ClearingBrokenPool(async () =>
        {
            await using var command = _dataSource.CreateCommand($"""
                SELECT {KeyColumns} FROM idempotency_keys
                 WHERE conversation_id = $1 AND user_id = $2 AND key = $3 AND created_at >= $4
                """);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversationId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = since.UtcDateTime });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? StoredConversationReader.Key(reader, Time) : null;
        });

    private Task<IReadOnlyList<StoredMessage>> ReadMessagesAsync(string sql, object[] parameters, CancellationToken cancellationToken) =>
        ClearingBrokenPool<IReadOnlyList<StoredMessage>>(async () =>
        {
            await using var command = _dataSource.CreateCommand(sql);
            foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await StoredConversationReader.ReadMessagesAsync(reader, Time, cancellationToken);
        });

    public Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken = default) =>
        max <= 0 ? Task.FromResult<IReadOnlyList<ConversationEvent>>([]) : ClearingBrokenPool(() => ReadEventRowsAsync(conversationId, afterId, max, cancellationToken));

    private async Task<StoredConversation?> LoadRowsAsync(string conversationId, LoadWindow? window, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Repeatable read: every result set comes from the same snapshot, so the rows agree
        // with LastEventId (read committed would take a new snapshot per statement).
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var sql in LoadQueries)
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter<string> { TypedValue = conversationId } } });
        batch.BatchCommands[2].Parameters.Add(Nullable(window?.RecentMessages, NpgsqlDbType.Integer));
        batch.BatchCommands[4].Parameters.Add(Nullable(window?.KeysSince.UtcDateTime, NpgsqlDbType.TimestampTz));
        batch.BatchCommands[4].Parameters.Add(Nullable(window?.RecentKeys + 1, NpgsqlDbType.Integer));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await StoredConversationReader.ReadAsync(reader, conversationId, Time, window?.RecentKeys, cancellationToken);
    }

    private async Task<IReadOnlyList<ConversationEvent>> ReadEventRowsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT id, type, data FROM events WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversationId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = max });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<ConversationEvent>();
        while (await reader.ReadAsync(cancellationToken))
            events.Add(new ConversationEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return events;
    }

    /// <summary>
    /// What a session of the store's data source gets: the server's, database's or role's
    /// <c>synchronous_commit</c> (the store never changes it) and the server's <c>fsync</c>.
    /// </summary>
    public async Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT current_setting('synchronous_commit'), current_setting('fsync')");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (synchronousCommit, fsync) = (reader.GetString(0), reader.GetString(1));
        // Every synchronous_commit but off (local, on, remote_write, remote_apply) waits for the local flush.
        return new StoreDurability(synchronousCommit != "off" && fsync == "on", $"synchronous_commit={synchronousCommit} fsync={fsync}");
    }

    /// <summary>Stops taking commits, writes everything already queued, then closes the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_commits is not null) await _commits.CompleteAsync();
        await _dataSource.DisposeAsync();
    }

    /// <summary>
    /// <see cref="GroupCommit"/>'s transaction: the commits merged into one set of statements. A
    /// batch whose commits cannot be merged (see <see cref="MergedCommits.TryMerge"/>) is not
    /// tried: its commits are written one by one instead; that is rare.
    /// </summary>
    private async Task<bool> WriteAsync(IReadOnlyList<ConversationCommit> commits)
    {
        if (!MergedCommits.TryMerge(commits, out var rows)) return false;
        try
        {
            // A pooled connection per transaction: a broken connection costs one batch, not the writer.
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using var batch = new NpgsqlBatch(connection, transaction);
            var update = rows.AddStatements(batch);
            await batch.ExecuteNonQueryAsync();
            if (update is not null && update.RecordsAffected != rows.UpdatedConversations.Count)
            {
                // Only reaches a caller when the commit was written alone: then it names that commit's conversation.
                throw new InvalidOperationException(
                    $"Conversation '{string.Join("', '", rows.UpdatedConversations)}' does not exist; its first commit must set Created.");
            }
            await transaction.CommitAsync(); // disposing an uncommitted transaction rolls it back
            return true;
        }
        catch (NpgsqlException ex)
        {
            ClearPoolIfBroken(ex);
            throw;
        }
    }

    /// <summary>
    /// After PostgreSQL restarts, every idle connection in the pool is dead and would fail one
    /// more call when next used (57P01, "terminating connection due to administrator command"):
    /// the first such failure empties the pool instead, so the calls after an outage get fresh
    /// connections.
    /// </summary>
    private void ClearPoolIfBroken(NpgsqlException ex)
    {
        if (ex.IsTransient || ex is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown })
            _dataSource.Clear();
    }

    private async Task<T> ClearingBrokenPool<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (NpgsqlException ex)
        {
            ClearPoolIfBroken(ex);
            throw;
        }
    }

    /// <summary>
    /// A grain call gives up after 10 s (the silos' ResponseTimeout). When PostgreSQL is out of
    /// reach the store must fail before that, so the caller hears "store unavailable" (503) and
    /// the grain is not left waiting: a connection is given 5 s (Npgsql's default is 15) and a
    /// statement 8 s (30), unless the connection string says otherwise.
    /// </summary>
    private static string WithOutageTimeouts(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Timeout")) builder.Timeout = 5;
        if (!given.ContainsKey("Command Timeout")) builder.CommandTimeout = 8;
        return builder.ConnectionString;
    }

    private static NpgsqlParameter Nullable(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static DateTimeOffset Time(System.Data.Common.DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
