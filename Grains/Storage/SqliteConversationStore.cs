using System.Globalization;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The embedded conversation store. All writes go through one connection and one background
/// loop that group-commits: whatever commits are queued when it wakes share one transaction
/// (one fsync), so thousands of small commits a second cost a few transactions. Reads open
/// their own pooled connections and, thanks to WAL, never wait for the writer.
/// </summary>
public sealed partial class SqliteConversationStore(SqliteStoreOptions options) : IConversationStore, IAsyncDisposable
{
    // Bounds how long the first caller of a batch waits behind the others.
    private const int MaxBatch = 1000;

    private readonly Channel<PendingCommit> _queue =
        Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true });
    private SqliteConnection? _writer;
    private WriteStatements? _statements;
    private Task? _writeLoop;
    private StoreDurability? _durability;

    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (_writeLoop is not null) return Task.CompletedTask;

        var directory = Path.GetDirectoryName(Path.GetFullPath(options.DataSource));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);

        // The writer is never pooled: it lives as long as the store.
        _writer = new SqliteConnection(new SqliteConnectionStringBuilder(options.ConnectionString) { Pooling = false }.ToString());
        _writer.Open();
        SqliteSchema.Apply(_writer, options.Synchronous);
        _durability = ReadDurability(_writer);
        _statements = new WriteStatements(_writer);
        _writeLoop = Task.Run(WriteLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Queues the commit for the writer and completes when it is durable (or failed). The token
    /// is honoured only before queueing: a queued commit is always written and its outcome reported.
    /// </summary>
    public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_writeLoop is null) throw new InvalidOperationException("InitializeAsync must be called before CommitAsync.");

        // RunContinuationsAsynchronously: callers' continuations must not run on the writer loop.
        var pending = new PendingCommit(commit, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(SqliteConversationStore));
        return pending.Done.Task;
    }

    // A message row in StoredConversationReader's layout.
    private const string MessageColumns = """
        m.id, m.role, m.author_id, m.author_name, m.content, m.status, m.reply_to, m.created_at, m.error,
        m.created_event_id, m.completed_event_id, m.prompt_tokens, m.completion_tokens, m.parent_id, m.requested_by
        """;

    private const string KeyColumns = "user_id, key, content_hash, user_message_id, assistant_message_id, event_id, created_at";

    public async Task<StoredConversation?> LoadAsync(string conversationId, LoadWindow? window = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        // One deferred (read) transaction, so every result set comes from the same snapshot
        // and the rows agree with LastEventId.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // The window: messages from the $n-th latest on, every open reply and its prompt, the head.
        command.CommandText = $"""
            SELECT title, owner_id, created_at, last_event_id, last_activity_at,
                   (SELECT min(id) FROM events WHERE conversation_id = $c), head_message_id,
                   (SELECT min(created_event_id) FROM messages WHERE conversation_id = $c)
              FROM conversations WHERE id = $c;
            SELECT user_id, name, role, joined_event_id FROM members WHERE conversation_id = $c ORDER BY rowid;
            SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $c
               AND ($n IS NULL OR m.created_event_id >= coalesce((
                    SELECT r.created_event_id FROM messages r WHERE r.conversation_id = $c
                     ORDER BY r.created_event_id DESC LIMIT 1 OFFSET coalesce($n, 1) - 1), 0))
            UNION
            SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $c AND m.status IN ('queued', 'streaming')
            UNION
            SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $c AND m.id IN (
                SELECT o.reply_to FROM messages o WHERE o.conversation_id = $c AND o.status IN ('queued', 'streaming')
                UNION SELECT head_message_id FROM conversations WHERE id = $c)
             ORDER BY created_event_id, id;
            SELECT token, created_by, created_at, expires_at, max_uses, uses, revoked FROM invites WHERE conversation_id = $c ORDER BY rowid;
            SELECT {KeyColumns} FROM idempotency_keys
             WHERE conversation_id = $c AND ($since IS NULL OR created_at >= $since)
             ORDER BY created_at DESC, rowid DESC LIMIT coalesce($k, -1);
            """;
        command.Parameters.AddWithValue("$c", conversationId);
        command.Parameters.AddWithValue("$n", (object?)window?.RecentMessages ?? DBNull.Value);
        command.Parameters.AddWithValue("$since", window is null ? DBNull.Value : ToText(window.KeysSince));
        command.Parameters.AddWithValue("$k", (object?)(window?.RecentKeys + 1) ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await StoredConversationReader.ReadAsync(reader, conversationId, Time, window?.RecentKeys, cancellationToken);
    }

    public async Task<StoredMessage?> ReadMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        (await ReadMessagesAsync($"SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $c AND m.id = $id",
            [("$c", conversationId), ("$id", messageId)], cancellationToken)).SingleOrDefault();

    public Task<IReadOnlyList<StoredMessage>> ReadMessagesBeforeAsync(string conversationId, long beforeEventId, int max, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            SELECT * FROM (SELECT {MessageColumns} FROM messages m
                            WHERE m.conversation_id = $c AND m.created_event_id < $before
                            ORDER BY m.created_event_id DESC, m.rowid DESC LIMIT $max)
             ORDER BY created_event_id, id
            """, [("$c", conversationId), ("$before", beforeEventId), ("$max", max)], cancellationToken);

    public Task<IReadOnlyList<StoredMessage>> ReadPathAsync(string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            WITH RECURSIVE path (id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM messages WHERE conversation_id = $c AND id = $id
                UNION ALL
                SELECT p.id, p.parent_id, path.depth + 1 FROM path JOIN messages p ON p.conversation_id = $c AND p.id = path.parent_id)
            SELECT {MessageColumns} FROM path JOIN messages m ON m.conversation_id = $c AND m.id = path.id
             ORDER BY path.depth DESC
            """, [("$c", conversationId), ("$id", messageId)], cancellationToken);

    public Task<IReadOnlyList<StoredMessage>> ReadChildrenAsync(string conversationId, string parentId, CancellationToken cancellationToken = default) =>
        ReadMessagesAsync($"""
            SELECT {MessageColumns} FROM messages m WHERE m.conversation_id = $c AND m.parent_id = $p
             ORDER BY m.created_event_id, m.rowid
            """, [("$c", conversationId), ("$p", parentId)], cancellationToken);

    public async Task<IdempotencyRecord?> ReadKeyAsync(string conversationId, string userId, string key, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {KeyColumns} FROM idempotency_keys
             WHERE conversation_id = $c AND user_id = $u AND key = $k AND created_at >= $since
            """;
        command.Parameters.AddWithValue("$c", conversationId);
        command.Parameters.AddWithValue("$u", userId);
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$since", ToText(since));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? StoredConversationReader.Key(reader, Time) : null;
    }

    private async Task<IReadOnlyList<StoredMessage>> ReadMessagesAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await StoredConversationReader.ReadMessagesAsync(reader, Time, cancellationToken);
    }

    private static DateTimeOffset Time(System.Data.Common.DbDataReader reader, int ordinal) => FromText(reader.GetString(ordinal));

    public async Task<IReadOnlyList<ConversationEvent>> ReadEventsAsync(string conversationId, long afterId, int max, CancellationToken cancellationToken = default)
    {
        if (max <= 0) return [];
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, data FROM events WHERE conversation_id = $c AND id > $after ORDER BY id LIMIT $max";
        command.Parameters.AddWithValue("$c", conversationId);
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$max", max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<ConversationEvent>();
        while (await reader.ReadAsync(cancellationToken))
            events.Add(new ConversationEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return events;
    }

    public async Task<IReadOnlyList<ConversationSummary>> ListForUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT c.id, c.title, c.owner_id, c.created_at, c.last_activity_at
              FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $u
             ORDER BY c.last_activity_at DESC, c.id
            """;
        command.Parameters.AddWithValue("$u", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var summaries = new List<ConversationSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            summaries.Add(new ConversationSummary(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), FromText(reader.GetString(3)), FromText(reader.GetString(4))));
        }
        return summaries;
    }

    /// <summary>The writer's own settings, read once at start (the connection then belongs to the write loop).</summary>
    public Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_durability ?? throw new InvalidOperationException("InitializeAsync must be called first."));

    private static StoreDurability ReadDurability(SqliteConnection writer)
    {
        using var command = writer.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        var journal = Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        command.CommandText = "PRAGMA synchronous";
        var synchronous = (SqliteSynchronous)Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        // In WAL mode FULL and EXTRA sync the log at every commit; NORMAL only at checkpoints.
        return new StoreDurability(synchronous >= SqliteSynchronous.Full,
            $"journal_mode={journal} synchronous={synchronous.ToString().ToLowerInvariant()}");
    }

    /// <summary>Stops taking commits, writes everything already queued, then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writeLoop is not null) await _writeLoop;
        _statements?.Dispose();
        if (_writer is not null) await _writer.DisposeAsync();
        // Release the pooled read connections too, so the file is closed once the store is.
        using var pooled = new SqliteConnection(options.ConnectionString);
        SqliteConnection.ClearPool(pooled);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingCommit>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending)) batch.Add(pending);
            WriteBatch(batch);
            batch.Clear();
        }
    }

    private void WriteBatch(List<PendingCommit> batch)
    {
        if (TryWrite(batch, out var error))
        {
            foreach (var pending in batch) pending.Done.TrySetResult();
            return;
        }

        if (batch.Count == 1)
        {
            batch[0].Done.TrySetException(error);
            return;
        }

        // The batch was rolled back whole. Replay each commit alone, in queue order, so only
        // the faulty commit's caller sees the error and its neighbours still land.
        foreach (var pending in batch)
        {
            if (TryWrite([pending], out error)) pending.Done.TrySetResult();
            else pending.Done.TrySetException(error);
        }
    }

    private bool TryWrite(List<PendingCommit> commits, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out Exception? error)
    {
        var statements = _statements!;
        try
        {
            // IMMEDIATE: take the write lock now rather than fail half-way on a busy upgrade.
            using var transaction = _writer!.BeginTransaction(deferred: false);
            statements.Enlist(transaction);
            foreach (var pending in commits) Apply(statements, pending.Commit);
            transaction.Commit(); // disposing an uncommitted transaction rolls it back
            error = null;
            return true;
        }
        catch (Exception ex)
        {
            error = ex;
            return false;
        }
    }

    private static void Apply(WriteStatements s, ConversationCommit commit)
    {
        var id = commit.ConversationId;
        var lastActivityAt = ToText(commit.LastActivityAt);
        if (commit.Created is { } info)
        {
            s.InsertConversation.Execute(id, info.Title, info.OwnerId, ToText(info.CreatedAt), lastActivityAt, commit.LastEventId);
        }
        else if (s.UpdateConversation.Execute(commit.LastEventId, lastActivityAt, commit.Title, id) == 0)
        {
            throw new InvalidOperationException($"Conversation '{id}' does not exist; its first commit must set Created.");
        }

        // A plain INSERT: a duplicate (conversation, id) throws and fails the whole commit.
        foreach (var e in commit.Events) s.InsertEvent.Execute(id, e.Id, e.Type, e.Data);
        foreach (var (m, joinedEventId) in commit.Members) s.InsertMember.Execute(id, m.UserId, m.Name, lastActivityAt, m.Role, joinedEventId);
        foreach (var userId in commit.RemovedMemberIds) s.DeleteMember.Execute(id, userId);
        foreach (var (m, createdEventId, completedEventId, requestedBy) in commit.Messages)
        {
            s.UpsertMessage.Execute(id, m.Id, createdEventId, completedEventId, m.Role, m.AuthorId, m.AuthorName,
                m.Content, m.Status, m.ReplyTo, ToText(m.CreatedAt), m.Error, m.Usage?.PromptTokens, m.Usage?.CompletionTokens,
                m.ParentId, requestedBy);
        }
        // Before a delete in the same commit: charges are the user's and outlive the conversation.
        foreach (var c in commit.UsageCharges)
        {
            s.InsertCharge.Execute(c.ReplyId, c.UserId, c.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), c.ConversationId,
                c.Usage.PromptTokens, c.Usage.CompletionTokens);
        }
        if (commit.Head is { } head) s.SetHead.Execute(head, id);
        foreach (var i in commit.Invites)
        {
            s.UpsertInvite.Execute(id, i.Token, i.CreatedBy, ToText(i.CreatedAt),
                i.ExpiresAt is { } expires ? ToText(expires) : null, i.MaxUses, i.Uses, i.Revoked ? 1 : 0);
        }
        // Expired keys go before new ones are stored: a key used again after its retention is new.
        if (commit.PruneKeysBefore is { } keysBefore) s.PruneKeys.Execute(id, ToText(keysBefore));
        foreach (var k in commit.IdempotencyKeys)
        {
            s.InsertKey.Execute(id, k.UserId, k.Key, k.ContentHash,
                k.Exchange.UserMessageId, k.Exchange.AssistantMessageId, k.Exchange.EventId, ToText(k.CreatedAt));
        }
        if (commit.PruneEventsBefore > 0) s.PruneEvents.Execute(id, commit.PruneEventsBefore);
        if (commit.Delete) s.DeleteConversation.Execute(id);
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    // Times are UTC ISO-8601 with seven fractional digits: exact to the tick, and fixed-width,
    // so text order is time order (ListForUserAsync sorts on it).
    private static string ToText(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset FromText(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private sealed record PendingCommit(ConversationCommit Commit, TaskCompletionSource Done);

    /// <summary>The writer's statements, prepared once and reused for every commit.</summary>
    private sealed class WriteStatements(SqliteConnection connection) : IDisposable
    {
        public Statement InsertConversation { get; } = new(connection, """
            INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
            VALUES ($id, $title, $owner, $created, $activity, $last)
            """);
        public Statement UpdateConversation { get; } = new(connection,
            "UPDATE conversations SET last_event_id = $last, last_activity_at = $activity, title = coalesce($title, title) WHERE id = $id");
        public Statement InsertEvent { get; } = new(connection,
            "INSERT INTO events (conversation_id, id, type, data) VALUES ($c, $id, $type, $data)");
        public Statement InsertMember { get; } = new(connection, """
            INSERT OR IGNORE INTO members (conversation_id, user_id, name, joined_at, role, joined_event_id)
            VALUES ($c, $user, $name, $joined, $role, $joined_event)
            """);
        public Statement DeleteMember { get; } = new(connection,
            "DELETE FROM members WHERE conversation_id = $c AND user_id = $user");
        public Statement UpsertMessage { get; } = new(connection, """
            INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id,
                                  author_name, content, status, reply_to, created_at, error, prompt_tokens, completion_tokens,
                                  parent_id, requested_by)
            VALUES ($c, $id, $created_event, $completed_event, $role, $author, $author_name, $content, $status,
                    $reply_to, $created_at, $error, $prompt_tokens, $completion_tokens, $parent_id, $requested_by)
            ON CONFLICT (conversation_id, id) DO UPDATE SET
                created_event_id = excluded.created_event_id, completed_event_id = excluded.completed_event_id,
                role = excluded.role, author_id = excluded.author_id, author_name = excluded.author_name,
                content = excluded.content, status = excluded.status, reply_to = excluded.reply_to,
                created_at = excluded.created_at, error = excluded.error,
                prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                parent_id = excluded.parent_id, requested_by = excluded.requested_by
            """);
        // A reply is charged once: a second charge for it changes nothing.
        public Statement InsertCharge { get; } = new(connection, """
            INSERT INTO usage_charges (reply_id, user_id, day, conversation_id, prompt_tokens, completion_tokens)
            VALUES ($reply, $user, $day, $c, $prompt, $completion)
            ON CONFLICT (reply_id) DO NOTHING
            """);
        public Statement SetHead { get; } = new(connection,
            "UPDATE conversations SET head_message_id = $head WHERE id = $id");
        public Statement UpsertInvite { get; } = new(connection, """
            INSERT INTO invites (conversation_id, token, created_by, created_at, expires_at, max_uses, uses, revoked)
            VALUES ($c, $token, $by, $at, $expires, $max_uses, $uses, $revoked)
            ON CONFLICT (conversation_id, token) DO UPDATE SET uses = excluded.uses, revoked = excluded.revoked
            """);
        public Statement InsertKey { get; } = new(connection, """
            INSERT INTO idempotency_keys (conversation_id, user_id, key, content_hash, user_message_id,
                                          assistant_message_id, event_id, created_at)
            VALUES ($c, $user, $key, $hash, $user_message, $assistant_message, $event, $created)
            """);
        public Statement PruneKeys { get; } = new(connection,
            "DELETE FROM idempotency_keys WHERE conversation_id = $c AND created_at < $before");
        public Statement PruneEvents { get; } = new(connection,
            "DELETE FROM events WHERE conversation_id = $c AND id < $before");
        // Every table that holds a row of a conversation.
        public Statement DeleteConversation { get; } = new(connection, """
            DELETE FROM events WHERE conversation_id = $c;
            DELETE FROM messages WHERE conversation_id = $c;
            DELETE FROM members WHERE conversation_id = $c;
            DELETE FROM invites WHERE conversation_id = $c;
            DELETE FROM idempotency_keys WHERE conversation_id = $c;
            DELETE FROM conversations WHERE id = $c;
            """);

        private IEnumerable<Statement> All =>
            [InsertConversation, UpdateConversation, InsertEvent, InsertMember, DeleteMember, UpsertMessage, InsertCharge, SetHead, UpsertInvite, PruneKeys, InsertKey, PruneEvents, DeleteConversation];

        public void Enlist(SqliteTransaction transaction)
        {
            foreach (var statement in All) statement.Command.Transaction = transaction;
        }

        public void Dispose()
        {
            foreach (var statement in All) statement.Command.Dispose();
        }
    }

    /// <summary>
    /// A prepared command whose parameters are bound by position: the values given to
    /// <see cref="Execute"/> match the <c>$names</c> in the order they first appear in the SQL.
    /// </summary>
    private sealed class Statement
    {
        public SqliteCommand Command { get; }

        public Statement(SqliteConnection connection, string sql)
        {
            Command = connection.CreateCommand();
            Command.CommandText = sql;
            foreach (var name in ParameterName().Matches(sql).Select(m => m.Value).Distinct())
                Command.Parameters.Add(new SqliteParameter { ParameterName = name });
            Command.Prepare();
        }

        public int Execute(params object?[] values)
        {
            if (values.Length != Command.Parameters.Count)
                throw new ArgumentException($"Expected {Command.Parameters.Count} values for: {Command.CommandText}");
            for (var i = 0; i < values.Length; i++) Command.Parameters[i].Value = values[i] ?? DBNull.Value;
            return Command.ExecuteNonQuery();
        }
    }

    [GeneratedRegex(@"\$\w+")]
    private static partial Regex ParameterName();
}
