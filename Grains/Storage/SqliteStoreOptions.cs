using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>Where the embedded SQLite store keeps its file, and how it reaches the disk.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>Path of the database file; its directory is created at start-up if missing.</summary>
    public string DataSource { get; set; } = "data/chatgrains.db";

    /// <summary>
    /// SQLite's <c>PRAGMA synchronous</c> for the writer. <see cref="SqliteSynchronous.Full"/>
    /// syncs the log at every commit, so an acknowledged commit (and every id it published)
    /// survives power loss; <see cref="SqliteSynchronous.Normal"/> syncs only at checkpoints and
    /// can lose the last commits on an OS crash, after which their ids are handed out again.
    /// </summary>
    public SqliteSynchronous Synchronous { get; set; } = SqliteSynchronous.Full;

    /// <summary>
    /// Page cache of the writer connection, in MiB (SQLite's own default is 2). Every delta
    /// commit touches its conversation's pages of the events, messages and conversations tables
    /// and their indexes; with many replies at once those pages do not fit in 2 MiB, and each
    /// commit read them back from the file and the log first. The writer's cache outlives its
    /// transactions (its own writes do not invalidate it, and it is the file's only writer), so
    /// this is memory the silo holds: at most this much, and no more than the hot part of the file.
    /// </summary>
    public int WriterCacheMegabytes { get; set; } = 64;

    /// <summary>
    /// How many pages the log may grow by before the writer copies it back into the file
    /// (SQLite's <c>wal_autocheckpoint</c>; its default is 1,000, about 4 MiB). The same hot pages
    /// are written again at every delta, so a longer log copies each of them back once for many
    /// commits: fewer writes and syncs of the file. The log file grows to about this many pages
    /// times 4 KiB before it is reused.
    /// </summary>
    public int CheckpointPages { get; set; } = 10_000;

    /// <summary>
    /// Pooled connections, so the store's short-lived read connections are cheap. The
    /// timeout (seconds) is how long a command retries while the database is busy.
    /// </summary>
    public string ConnectionString => new SqliteConnectionStringBuilder
    {
        DataSource = DataSource,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 5,
    }.ToString();
}

/// <summary>The values of SQLite's <c>PRAGMA synchronous</c> that keep the file consistent (OFF does not).</summary>
public enum SqliteSynchronous
{
    Normal = 1,
    Full = 2,
    Extra = 3,
}
