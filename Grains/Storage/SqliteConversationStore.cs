using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The embedded conversation store. All writes go through one connection and one
/// <see cref="GroupCommit"/> writer: whatever commits are queued when it wakes share one
/// transaction (one fsync), so thousands of small commits a second cost a few transactions; the
/// statements they run are <see cref="SqliteWriteStatements"/>. Reads open their own pooled
/// connections and, thanks to WAL, never wait for the writer.
/// </summary>
/// <remarks>
/// The writer connection is the file's only one: the user store writes through it too
/// (<see cref="OnWriter"/>). A commit by any other connection would make SQLite drop this
/// connection's whole page cache at its next transaction, so that every commit after it read its
/// pages back from the file.
/// </remarks>
public sealed class SqliteConversationStore(SqliteStoreOptions options) : IConversationStore, IAsyncDisposable
{
    // One transaction at a time on the writer: this store's group commits and the user store's.
    private readonly Lock _writerGate = new();
    private bool _closed;
    private SqliteConnection? _writer;
    private SqliteWriteStatements? _statements;
    private GroupCommit? _commits;
    private StoreDurability? _durability;
    private WriterTuning _tuning;

    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (_commits is not null) return Task.CompletedTask;

        var directory = Path.GetDirectoryName(Path.GetFullPath(options.DataSource));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);

        // The writer is never pooled: it lives as long as the store.
        _writer = new SqliteConnection(new SqliteConnectionStringBuilder(options.ConnectionString) { Pooling = false }.ToString());
        _writer.Open();
        SqliteSchema.Apply(_writer, options.Synchronous);
        _tuning = Tune(_writer, options);
        _durability = ReadDurability(_writer);
        _statements = new SqliteWriteStatements(_writer);
        // One writer: the file takes one write transaction at a time.
        _commits = new GroupCommit(writers: 1, Write);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs <paramref name="write"/> on the writer connection between this store's own
    /// transactions (it must begin and end its own). For the user store, whose tables are in the
    /// same file: see the remarks above.
    /// </summary>
    internal T OnWriter<T>(Func<SqliteConnection, T> write)
    {
        var writer = _writer ?? throw new InvalidOperationException("InitializeAsync must be called before the file is written.");
        lock (_writerGate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return write(writer);
        }
    }

    /// <summary>
    /// Queues the commit for the writer and completes when it is durable (or failed). The token
    /// is honoured only before queueing: a queued commit is always written and its outcome reported.
    /// </summary>
    public Task CommitAsync(ConversationCommit commit, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_commits is null) throw new InvalidOperationException("InitializeAsync must be called before CommitAsync.");
        if (!_commits.TryEnqueue(commit, out var done)) throw new ObjectDisposedException(nameof(SqliteConversationStore));
        return done;
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

    /// <summary>The writer's own settings, read once at start (the connection then belongs to the write loop).</summary>
    public Task<StoreDurability> ReadDurabilityAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_durability ?? throw new InvalidOperationException("InitializeAsync must be called first."));

    /// <summary>The writer's page cache and checkpoint interval as SQLite reports them after <see cref="Tune"/>.</summary>
    internal WriterTuning Tuning => _tuning;

    private static WriterTuning Tune(SqliteConnection writer, SqliteStoreOptions options)
    {
        using var command = writer.CreateCommand();
        // Both per connection; only the writer's matter (readers' caches are dropped whenever the
        // file changes). A negative cache_size is in KiB rather than pages.
        command.CommandText = $"PRAGMA cache_size = -{options.WriterCacheMegabytes * 1024L}; PRAGMA wal_autocheckpoint = {options.CheckpointPages};";
        command.ExecuteNonQuery();
        command.CommandText = "PRAGMA cache_size";
        var cacheKib = -Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        command.CommandText = "PRAGMA wal_autocheckpoint";
        return new WriterTuning(cacheKib, Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture));
    }

    internal readonly record struct WriterTuning(long CacheKib, long CheckpointPages);

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
        if (_commits is not null) await _commits.CompleteAsync();
        lock (_writerGate)
        {
            if (_closed) return;
            _closed = true;
            _statements?.Dispose();
            _writer?.Dispose();
        }
        // Release the pooled read connections too, so the file is closed once the store is.
        using var pooled = new SqliteConnection(options.ConnectionString);
        SqliteConnection.ClearPool(pooled);
    }

    /// <summary><see cref="GroupCommit"/>'s transaction: the commits applied one after another; throws if it fails.</summary>
    private Task<bool> Write(IReadOnlyList<ConversationCommit> commits)
    {
        var statements = _statements!;
        lock (_writerGate)
        {
            // IMMEDIATE: take the write lock now rather than fail half-way on a busy upgrade.
            using var transaction = _writer!.BeginTransaction(deferred: false);
            statements.Enlist(transaction);
            foreach (var commit in commits) statements.Apply(commit);
            transaction.Commit(); // disposing an uncommitted transaction rolls it back
        }
        return Written;
    }

    private static readonly Task<bool> Written = Task.FromResult(true);

    /// <summary>A pooled read connection to the file (WAL: it never waits for the writer); the user store's reads use it too.</summary>
    internal async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    // Times are UTC ISO-8601 with seven fractional digits: exact to the tick, and fixed-width,
    // so text order is time order (queries compare and sort on it).
    internal static string ToText(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset FromText(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
