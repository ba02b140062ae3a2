using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>Where the embedded SQLite store keeps its file.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>Path of the database file; its directory is created at start-up if missing.</summary>
    public string DataSource { get; set; } = "data/chatgrains.db";

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
