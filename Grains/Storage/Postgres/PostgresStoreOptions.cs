namespace ChatGrains.Storage;

/// <summary>Where the clustered PostgreSQL store keeps its rows.</summary>
public sealed class PostgresStoreOptions
{
    /// <summary>
    /// An Npgsql connection string, e.g. <c>Host=db;Database=chatgrains;Username=chat;Password=…</c>.
    /// The store builds one pooled data source from it for reads and writes.
    /// </summary>
    public string ConnectionString { get; set; } = "";
}
