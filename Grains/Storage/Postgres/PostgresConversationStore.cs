using System.Data;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace ChatGrains.Storage;

/// <summary>
/// The clustered conversation store. Writes go through background loops that group-commit:
/// whatever commits are queued when a loop wakes share one transaction, and that transaction
/// is a handful of statements whatever its size (rows travel as arrays and are unnested), so
/// thousands of small commits a second cost a few round trips. Reads use the pooled data
/// source directly and never wait for a writer.
/// </summary>
public sealed class PostgresConversationStore(PostgresStoreOptions options) : IConversationStore, IAsyncDisposable
{
    // Bounds how long the first caller of a batch waits behind the others.
    private const int MaxBatch = 1000;

    // Writers work in parallel on disjoint sets of conversations (by hash of the id), so one
    // conversation's commits are still written in the order they were queued. While one waits
    // for its commit, another builds its next batch. On 2 cores two writers took about 1.5x the
    // commits of one at saturation, with the same latency at 20k events/s; four were worse.
    private const int WriterCount = 2;

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(WithOutageTimeouts(options.ConnectionString));
    private readonly Channel<PendingCommit>[] _queues = [.. Enumerable.Range(0, WriterCount).Select(_ =>
        Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true }))];
    private Task[]? _writeLoops;

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
        if (_writeLoops is not null) return;
        await PostgresSchema.ApplyAsync(_dataSource, cancellationToken);
        _writeLoops = [.. _queues.Select(queue => Task.Run(() => WriteLoopAsync(queue.Reader), CancellationToken.None))];
    }

    /// <summary>
    /// Queues the commit for its writer and completes when it is durable (or failed). The token
    /// is honoured only before queueing: a queued commit is always written and its outcome reported.
    /// </summary>
    public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_writeLoops is null) throw new InvalidOperationException("InitializeAsync must be called before CommitAsync.");

        // RunContinuationsAsynchronously: callers' continuations must not run on a writer loop.
        var pending = new PendingCommit(commit, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var queue = _queues[(uint)commit.ConversationId.GetHashCode() % WriterCount];
        if (!queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(PostgresConversationStore));
        return pending.Done.Task;
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

    public Task<IReadOnlyList<ConversationSummary>> ListForUserAsync(string userId, CancellationToken cancellationToken = default) =>
        ClearingBrokenPool(() => ListAsync(userId, cancellationToken));

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

    private async Task<IReadOnlyList<ConversationSummary>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT c.id, c.title, c.owner_id, c.created_at, c.last_activity_at
              FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1
             ORDER BY c.last_activity_at DESC, c.id
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var summaries = new List<ConversationSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            summaries.Add(new ConversationSummary(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), Time(reader, 3), Time(reader, 4)));
        }
        return summaries;
    }

    /// <summary>Stops taking commits, writes everything already queued, then closes the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues) queue.Writer.TryComplete();
        if (_writeLoops is not null) await Task.WhenAll(_writeLoops);
        await _dataSource.DisposeAsync();
    }

    private async Task WriteLoopAsync(ChannelReader<PendingCommit> queue)
    {
        var batch = new List<PendingCommit>(MaxBatch);
        while (await queue.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && queue.TryRead(out var pending)) batch.Add(pending);
            await WriteBatchAsync(batch);
            batch.Clear();
        }
    }

    private async Task WriteBatchAsync(List<PendingCommit> batch)
    {
        // A batch whose commits cannot be merged into one set of statements (see
        // MergedCommits.TryMerge) goes the slow way straight away; that is rare.
        if (batch.Count > 1 && MergedCommits.TryMerge(batch.Select(p => p.Commit), out var merged))
        {
            if (await TryWriteAsync(merged) is null)
            {
                foreach (var pending in batch) pending.Done.TrySetResult();
                return;
            }
        }

        // The batch was rolled back whole (or never tried). Write each commit alone, in queue
        // order, so only the faulty commit's caller sees the error and its neighbours still land.
        // This is also how a deadlock with another silo's writer resolves itself.
        foreach (var pending in batch)
        {
            MergedCommits.TryMerge([pending.Commit], out var single);
            if (await TryWriteAsync(single) is { } error) pending.Done.TrySetException(error);
            else pending.Done.TrySetResult();
        }
    }

    /// <summary>Writes the rows in one transaction; returns the error, or null once committed.</summary>
    private async Task<Exception?> TryWriteAsync(MergedCommits rows)
    {
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
            return null;
        }
        catch (Exception ex)
        {
            if (ex is NpgsqlException npgsql) ClearPoolIfBroken(npgsql);
            return ex;
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

    private sealed record PendingCommit(ConversationCommit Commit, TaskCompletionSource Done);

    /// <summary>
    /// Several commits' rows as one column array per table column, so a transaction is at most
    /// a dozen statements however many commits it carries. The result is the same as applying the
    /// commits one after another: a conversation row gets its last commit's head, a message row
    /// its last version (in the position it was first written), members already there are kept,
    /// and a deleted conversation's rows are removed last.
    /// </summary>
    private sealed class MergedCommits
    {
        private readonly Dictionary<string, ConversationHead> _conversations = new(StringComparer.Ordinal);
        private readonly List<(string Conversation, ConversationEvent Event)> _events = [];
        private readonly Dictionary<string, long> _prunes = new(StringComparer.Ordinal);
        private readonly List<(string Conversation, StoredMember Member, DateTimeOffset JoinedAt)> _members = [];
        private readonly List<(string Conversation, string UserId)> _removedMembers = [];
        private readonly HashSet<(string, string)> _memberChanges = [];
        private readonly List<(string Conversation, StoredMessage Message)> _messages = [];
        private readonly Dictionary<(string, string), int> _messageIndex = [];
        private readonly List<(string Conversation, Invite Invite)> _invites = [];
        private readonly Dictionary<(string, string), int> _inviteIndex = [];
        private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
        private readonly List<(string Conversation, IdempotencyRecord Key)> _keys = [];
        private readonly Dictionary<string, DateTimeOffset> _keyPrunes = new(StringComparer.Ordinal);
        private readonly List<UsageCharge> _charges = [];

        /// <summary>The conversations that must already exist (none of this batch's commits creates them).</summary>
        public List<string> UpdatedConversations { get; } = [];

        /// <summary>
        /// Merges the commits, or returns false when merging would not match applying them in
        /// order: a commit that creates a conversation an earlier commit of the batch wrote to
        /// (alone, one of the two would fail), or events below an id that an earlier commit
        /// pruned (alone, they would be kept). A single commit always merges.
        /// </summary>
        public static bool TryMerge(IEnumerable<ConversationCommit> commits, out MergedCommits merged)
        {
            merged = new MergedCommits();
            foreach (var commit in commits)
            {
                if (!merged.Add(commit)) return false;
            }
            return true;
        }

        private bool Add(ConversationCommit commit)
        {
            var id = commit.ConversationId;
            // Rows are inserted before removed ones are deleted: a member who leaves and joins
            // again within one batch would lose their row, so such commits are written alone.
            var memberChanges = commit.Members.Select(m => (id, m.Member.UserId)).Concat(commit.RemovedMemberIds.Select(u => (id, u))).ToList();
            if (memberChanges.Any(_memberChanges.Contains)) return false;
            _memberChanges.UnionWith(memberChanges);
            if (_conversations.TryGetValue(id, out var head))
            {
                if (commit.Created is not null || _deleted.Contains(id)) return false;
                if (_prunes.TryGetValue(id, out var pruned) && commit.Events.Any(e => e.Id < pruned)) return false;
            }
            else
            {
                head = new ConversationHead(commit.Created);
                _conversations.Add(id, head);
                if (commit.Created is null) UpdatedConversations.Add(id);
            }
            head.LastEventId = commit.LastEventId;
            head.LastActivityAt = commit.LastActivityAt;
            if (commit.Title is not null) head.Title = commit.Title;
            if (commit.Head is not null) head.HeadMessageId = commit.Head;
            if (commit.Delete) _deleted.Add(id);

            foreach (var e in commit.Events) _events.Add((id, e));
            foreach (var m in commit.Members) _members.Add((id, m, commit.LastActivityAt));
            foreach (var u in commit.RemovedMemberIds) _removedMembers.Add((id, u));
            foreach (var m in commit.Messages)
            {
                if (_messageIndex.TryGetValue((id, m.Message.Id), out var i)) _messages[i] = (id, m);
                else
                {
                    _messageIndex.Add((id, m.Message.Id), _messages.Count);
                    _messages.Add((id, m));
                }
            }
            // One row per invite: its last version (ON CONFLICT cannot touch a row twice).
            foreach (var i in commit.Invites)
            {
                if (_inviteIndex.TryGetValue((id, i.Token), out var n)) _invites[n] = (id, i);
                else
                {
                    _inviteIndex.Add((id, i.Token), _invites.Count);
                    _invites.Add((id, i));
                }
            }
            foreach (var k in commit.IdempotencyKeys) _keys.Add((id, k));
            if (commit.PruneKeysBefore is { } keysBefore)
                _keyPrunes[id] = _keyPrunes.TryGetValue(id, out var earlier) && earlier > keysBefore ? earlier : keysBefore;
            _charges.AddRange(commit.UsageCharges);
            if (commit.PruneEventsBefore > 0)
                _prunes[id] = Math.Max(commit.PruneEventsBefore, _prunes.GetValueOrDefault(id));
            return true;
        }

        /// <summary>Adds the statements that have rows to write; returns the conversation update, if any.</summary>
        public NpgsqlBatchCommand? AddStatements(NpgsqlBatch batch)
        {
            var created = _conversations.Where(c => c.Value.Created is not null).ToList();
            if (created.Count > 0)
            {
                Add(batch, """
                    INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id, head_message_id)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::text[])
                    """,
                    Column(created, c => c.Key), Column(created, c => c.Value.Title ?? c.Value.Created!.Title),
                    Column(created, c => c.Value.Created!.OwnerId), Column(created, c => Utc(c.Value.Created!.CreatedAt)),
                    Column(created, c => Utc(c.Value.LastActivityAt)), Column(created, c => c.Value.LastEventId),
                    Column(created, c => c.Value.HeadMessageId));
            }

            NpgsqlBatchCommand? update = null;
            if (UpdatedConversations.Count > 0)
            {
                var heads = UpdatedConversations.Select(id => _conversations[id]).ToList();
                update = Add(batch, """
                    UPDATE conversations c SET last_event_id = u.last_event_id, last_activity_at = u.last_activity_at,
                                               title = coalesce(u.title, c.title),
                                               head_message_id = coalesce(u.head, c.head_message_id)
                      FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[])
                           AS u(id, last_event_id, last_activity_at, title, head)
                     WHERE c.id = u.id
                    """,
                    UpdatedConversations.ToArray(), Column(heads, h => h.LastEventId), Column(heads, h => Utc(h.LastActivityAt)),
                    Column(heads, h => h.Title), Column(heads, h => h.HeadMessageId));
            }

            // A plain INSERT: a duplicate (conversation, id) throws and fails the whole transaction.
            if (_events.Count > 0)
            {
                Add(batch, """
                    INSERT INTO events (conversation_id, id, type, data)
                    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
                    """,
                    Column(_events, e => e.Conversation), Column(_events, e => e.Event.Id),
                    Column(_events, e => e.Event.Type), Column(_events, e => e.Event.Data));
            }

            // After the inserts, as in a commit applied alone.
            if (_prunes.Count > 0)
            {
                var prunes = _prunes.ToList();
                Add(batch, """
                    DELETE FROM events e USING unnest($1::text[], $2::bigint[]) AS p(conversation_id, before)
                     WHERE e.conversation_id = p.conversation_id AND e.id < p.before
                    """,
                    Column(prunes, p => p.Key), Column(prunes, p => p.Value));
            }

            // WITH ORDINALITY ... ORDER BY: rows take their seq (read-back order) in commit order.
            if (_members.Count > 0)
            {
                Add(batch, """
                    INSERT INTO members (conversation_id, user_id, name, joined_at, role, joined_event_id)
                    SELECT c, u, n, j, r, e
                      FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[])
                           WITH ORDINALITY AS m(c, u, n, j, r, e, ord)
                     ORDER BY ord
                    ON CONFLICT (conversation_id, user_id) DO NOTHING
                    """,
                    Column(_members, m => m.Conversation), Column(_members, m => m.Member.Member.UserId),
                    Column(_members, m => m.Member.Member.Name), Column(_members, m => Utc(m.JoinedAt)),
                    Column(_members, m => m.Member.Member.Role), Column(_members, m => m.Member.JoinedEventId));
            }

            if (_removedMembers.Count > 0)
            {
                Add(batch, """
                    DELETE FROM members m USING unnest($1::text[], $2::text[]) AS r(conversation_id, user_id)
                     WHERE m.conversation_id = r.conversation_id AND m.user_id = r.user_id
                    """,
                    Column(_removedMembers, r => r.Conversation), Column(_removedMembers, r => r.UserId));
            }

            if (_messages.Count > 0)
            {
                Add(batch, """
                    INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id,
                                          author_name, content, status, reply_to, created_at, error, prompt_tokens,
                                          completion_tokens, parent_id, requested_by)
                    SELECT c, i, ce, de, r, a, an, co, s, rt, ca, er, pt, ct, pa, rb
                      FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                                  $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::integer[],
                                  $14::integer[], $15::text[], $16::text[])
                           WITH ORDINALITY AS m(c, i, ce, de, r, a, an, co, s, rt, ca, er, pt, ct, pa, rb, ord)
                     ORDER BY ord
                    ON CONFLICT (conversation_id, id) DO UPDATE SET
                        created_event_id = excluded.created_event_id, completed_event_id = excluded.completed_event_id,
                        role = excluded.role, author_id = excluded.author_id, author_name = excluded.author_name,
                        content = excluded.content, status = excluded.status, reply_to = excluded.reply_to,
                        created_at = excluded.created_at, error = excluded.error,
                        prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                        parent_id = excluded.parent_id, requested_by = excluded.requested_by
                    """,
                    Column(_messages, m => m.Conversation), Column(_messages, m => m.Message.Message.Id),
                    Column(_messages, m => m.Message.CreatedEventId), Column(_messages, m => m.Message.CompletedEventId),
                    Column(_messages, m => m.Message.Message.Role), Column(_messages, m => m.Message.Message.AuthorId),
                    Column(_messages, m => m.Message.Message.AuthorName), Column(_messages, m => m.Message.Message.Content),
                    Column(_messages, m => m.Message.Message.Status), Column(_messages, m => m.Message.Message.ReplyTo),
                    Column(_messages, m => Utc(m.Message.Message.CreatedAt)), Column(_messages, m => m.Message.Message.Error),
                    Column(_messages, m => m.Message.Message.Usage?.PromptTokens), Column(_messages, m => m.Message.Message.Usage?.CompletionTokens),
                    Column(_messages, m => m.Message.Message.ParentId), Column(_messages, m => m.Message.RequestedBy));
            }

            // Charges are the user's, not the conversation's: the delete below keeps them. A
            // reply is charged once: a second charge for it changes nothing.
            if (_charges.Count > 0)
            {
                Add(batch, """
                    INSERT INTO usage_charges (reply_id, user_id, day, conversation_id, prompt_tokens, completion_tokens)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::integer[], $6::integer[])
                    ON CONFLICT (reply_id) DO NOTHING
                    """,
                    Column(_charges, c => c.ReplyId), Column(_charges, c => c.UserId), Column(_charges, c => c.Day),
                    Column(_charges, c => c.ConversationId), Column(_charges, c => c.Usage.PromptTokens),
                    Column(_charges, c => c.Usage.CompletionTokens));
            }

            if (_invites.Count > 0)
            {
                Add(batch, """
                    INSERT INTO invites (conversation_id, token, created_by, created_at, expires_at, max_uses, uses, revoked)
                    SELECT c, t, b, a, x, m, u, r
                      FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::integer[],
                                  $7::integer[], $8::boolean[])
                           WITH ORDINALITY AS i(c, t, b, a, x, m, u, r, ord)
                     ORDER BY ord
                    ON CONFLICT (conversation_id, token) DO UPDATE SET uses = excluded.uses, revoked = excluded.revoked
                    """,
                    Column(_invites, i => i.Conversation), Column(_invites, i => i.Invite.Token),
                    Column(_invites, i => i.Invite.CreatedBy), Column(_invites, i => Utc(i.Invite.CreatedAt)),
                    Column(_invites, i => i.Invite.ExpiresAt is { } x ? Utc(x) : (DateTime?)null), Column(_invites, i => i.Invite.MaxUses),
                    Column(_invites, i => i.Invite.Uses), Column(_invites, i => i.Invite.Revoked));
            }

            // Expired keys go before new ones are stored: a key used again after its retention is new.
            if (_keyPrunes.Count > 0)
            {
                var prunes = _keyPrunes.ToList();
                Add(batch, """
                    DELETE FROM idempotency_keys k USING unnest($1::text[], $2::timestamptz[]) AS p(conversation_id, before)
                     WHERE k.conversation_id = p.conversation_id AND k.created_at < p.before
                    """,
                    Column(prunes, p => p.Key), Column(prunes, p => Utc(p.Value)));
            }

            if (_keys.Count > 0)
            {
                Add(batch, """
                    INSERT INTO idempotency_keys (conversation_id, user_id, key, content_hash, user_message_id,
                                                  assistant_message_id, event_id, created_at)
                    SELECT c, u, k, h, um, am, e, ca
                      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                                  $8::timestamptz[])
                           WITH ORDINALITY AS k(c, u, k, h, um, am, e, ca, ord)
                     ORDER BY ord
                    """,
                    Column(_keys, k => k.Conversation), Column(_keys, k => k.Key.UserId), Column(_keys, k => k.Key.Key),
                    Column(_keys, k => k.Key.ContentHash), Column(_keys, k => k.Key.Exchange.UserMessageId),
                    Column(_keys, k => k.Key.Exchange.AssistantMessageId), Column(_keys, k => k.Key.Exchange.EventId),
                    Column(_keys, k => Utc(k.Key.CreatedAt)));
            }

            // Last: a deleted conversation's rows go, whatever this batch wrote for it.
            if (_deleted.Count > 0)
            {
                // As one object: a string[] alone would be taken as the params array itself.
                object deleted = _deleted.ToArray();
                foreach (var table in new[] { "events", "messages", "members", "invites", "idempotency_keys" })
                    Add(batch, $"DELETE FROM {table} WHERE conversation_id = ANY($1::text[])", deleted);
                Add(batch, "DELETE FROM conversations WHERE id = ANY($1::text[])", deleted);
            }

            return update;
        }

        private static NpgsqlBatchCommand Add(NpgsqlBatch batch, string sql, params object[] columns)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var column in columns) command.Parameters.Add(new NpgsqlParameter { Value = column });
            batch.BatchCommands.Add(command);
            return command;
        }

        private static TValue[] Column<TRow, TValue>(List<TRow> rows, Func<TRow, TValue> value)
        {
            var column = new TValue[rows.Count];
            for (var i = 0; i < column.Length; i++) column[i] = value(rows[i]);
            return column;
        }

        // Npgsql writes timestamptz from UTC DateTimes only; PostgreSQL keeps microseconds.
        private static DateTime Utc(DateTimeOffset time) => time.UtcDateTime;

        private sealed class ConversationHead(ConversationInfo? created)
        {
            public ConversationInfo? Created { get; } = created;
            public long LastEventId { get; set; }
            public string? Title { get; set; }
            public string? HeadMessageId { get; set; }
            public DateTimeOffset LastActivityAt { get; set; }
        }
    }
}
