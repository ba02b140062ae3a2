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
