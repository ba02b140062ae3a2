using Npgsql;

namespace ChatGrains.Storage;

/// <summary>
/// The users' data in PostgreSQL, beside the conversations. Writes are few and small (a read
/// position, a user event now and then): each is one transaction on a pooled connection.
/// </summary>
public sealed class PostgresUserStore(PostgresStoreOptions options) : IUserStore, IAsyncDisposable
{
    private static readonly string ItemsSql = UserQueries.Items("greatest", i => $"${i}");
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(WithOutageTimeouts(options.ConnectionString));

    public async Task<IReadOnlyList<ConversationListItem>> ListAsync(string userId, CancellationToken cancellationToken = default) =>
        await Clearing(() => ReadItemsAsync(userId, null, cancellationToken));

    public Task<UserConversation> FindAsync(string userId, string conversationId, CancellationToken cancellationToken = default) =>
        Clearing(async () =>
        {
            var items = await ReadItemsAsync(userId, conversationId, cancellationToken);
            if (items.Count > 0) return new UserConversation(items[0], true);
            await using var command = _dataSource.CreateCommand("SELECT 1 FROM conversations WHERE id = $1");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversationId });
            return new UserConversation(null, await command.ExecuteScalarAsync(cancellationToken) is not null);
        });

    public Task SaveReadPositionAsync(string userId, string conversationId, long lastEventId, CancellationToken cancellationToken = default) =>
        Clearing(async () =>
        {
            await using var command = _dataSource.CreateCommand("""
                INSERT INTO read_positions (user_id, conversation_id, last_read_event_id) VALUES ($1, $2, $3)
                ON CONFLICT (user_id, conversation_id) DO UPDATE
                   SET last_read_event_id = greatest(read_positions.last_read_event_id, excluded.last_read_event_id)
                """);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = conversationId });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lastEventId });
            return await command.ExecuteNonQueryAsync(cancellationToken);
        });

    public Task<StoredUserLog> LoadLogAsync(string userId, CancellationToken cancellationToken = default) =>
        Clearing(async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
            await using var batch = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT coalesce(max(id), 0), coalesce(min(id), 0) FROM user_events WHERE user_id = $1")
                        { Parameters = { new NpgsqlParameter<string> { TypedValue = userId } } },
                    new NpgsqlBatchCommand("SELECT item FROM user_list WHERE user_id = $1 ORDER BY seq")
                        { Parameters = { new NpgsqlParameter<string> { TypedValue = userId } } },
                },
            };
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var (last, first) = (reader.GetInt64(0), reader.GetInt64(1));
            await reader.NextResultAsync(cancellationToken);
            var listed = new List<ConversationListItem>();
            while (await reader.ReadAsync(cancellationToken)) listed.Add(UserQueries.FromJson(reader.GetString(0)));
            return new StoredUserLog(listed, last, first == 0 ? last + 1 : first);
        });

    public Task CommitAsync(UserCommit commit, CancellationToken cancellationToken = default) =>
        Clearing(async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection, transaction);
            var user = commit.UserId;
            if (commit.Events.Count > 0)
            {
                // A plain INSERT: a duplicate (user, id) throws and rolls the whole commit back.
                Add(batch, """
                    INSERT INTO user_events (user_id, id, type, data)
                    SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])
                    """, user, commit.Events.Select(e => e.Id).ToArray(), commit.Events.Select(e => e.Type).ToArray(),
                    commit.Events.Select(e => e.Data).ToArray());
            }
            if (commit.Listed.Count > 0)
            {
                Add(batch, """
                    INSERT INTO user_list (user_id, conversation_id, item)
                    SELECT $1, c, i FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS l(c, i, ord) ORDER BY ord
                    ON CONFLICT (user_id, conversation_id) DO UPDATE SET item = excluded.item
                    """, user, commit.Listed.Select(i => i.Id).ToArray(), commit.Listed.Select(UserQueries.ToJson).ToArray());
            }
            if (commit.Unlisted.Count > 0)
            {
                var ids = commit.Unlisted.ToArray();
                Add(batch, "DELETE FROM user_list WHERE user_id = $1 AND conversation_id = ANY($2::text[])", user, ids);
                Add(batch, "DELETE FROM read_positions WHERE user_id = $1 AND conversation_id = ANY($2::text[])", user, ids);
            }
            if (commit.Deleted is { Count: > 0 } deleted)
            {
                // jsonb reorders the keys of the events it rewrites: clients read them by name.
                Add(batch, """
                    UPDATE user_events SET data = jsonb_set(data::jsonb, '{title}', '""')::text
                     WHERE user_id = $1 AND type <> 'conversation.removed' AND data::jsonb ->> 'id' = ANY($2::text[])
                    """, user, deleted.ToArray());
            }
            if (commit.PruneEventsBefore > 0)
                Add(batch, "DELETE FROM user_events WHERE user_id = $1 AND id < $2", user, commit.PruneEventsBefore);
            if (batch.BatchCommands.Count == 0) return 0;
            await batch.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return 0;
        });

    public Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string userId, long afterId, int max, CancellationToken cancellationToken = default) =>
        max <= 0 ? Task.FromResult<IReadOnlyList<ConversationEvent>>([]) : Clearing<IReadOnlyList<ConversationEvent>>(async () =>
        {
            await using var command = _dataSource.CreateCommand(
                "SELECT id, type, data FROM user_events WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterId });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = max });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var events = new List<ConversationEvent>();
            while (await reader.ReadAsync(cancellationToken))
                events.Add(new ConversationEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
            return events;
        });

    public Task<Usage> ReadUsageAsync(string userId, DateOnly day, CancellationToken cancellationToken = default) =>
        Clearing(async () =>
        {
            await using var command = _dataSource.CreateCommand("""
                SELECT coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint
                  FROM usage_charges WHERE user_id = $1 AND day = $2
                """);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = day });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return new Usage((int)Math.Min(reader.GetInt64(0), int.MaxValue), (int)Math.Min(reader.GetInt64(1), int.MaxValue));
        });

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<List<ConversationListItem>> ReadItemsAsync(string userId, string? conversationId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(ItemsSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = conversationId, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await UserQueries.ReadItemsAsync(reader, static (r, i) => r.GetFieldValue<DateTimeOffset>(i), cancellationToken);
    }

    private static void Add(NpgsqlBatch batch, string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        batch.BatchCommands.Add(command);
    }

    /// <summary>After a PostgreSQL restart every pooled connection is dead: empty the pool on the first failure that says so.</summary>
    private async Task<T> Clearing<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (NpgsqlException ex)
        {
            if (ex.IsTransient || ex is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown })
                _dataSource.Clear();
            throw;
        }
    }

    /// <summary>As the conversation store: fail before a grain call's 10 s timeout when PostgreSQL is away.</summary>
    private static string WithOutageTimeouts(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Timeout")) builder.Timeout = 5;
        if (!given.ContainsKey("Command Timeout")) builder.CommandTimeout = 8;
        return builder.ConnectionString;
    }
}
