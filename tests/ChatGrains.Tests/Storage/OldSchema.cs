using System.Reflection;
using ChatGrains.Storage;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// Databases as an earlier build left them, for migration tests: the first <c>migrations</c> of the
/// store's own (append-only) list applied, the schema version recorded as that build did, and rows
/// written in that schema.
/// </summary>
internal static class OldSchema
{
    public static async Task WriteSqliteAsync(string file, int migrations, string rows)
    {
        await using var old = new SqliteConnection($"Data Source={file};Pooling=False");
        await old.OpenAsync();
        await using var command = old.CreateCommand();
        command.CommandText = string.Join("\n", First("SqliteSchema", migrations)) + rows + $"PRAGMA user_version = {migrations};";
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A new PostgreSQL database at that schema version; returns its connection string.</summary>
    public static async Task<string> WritePostgresAsync(int migrations, string rows)
    {
        var connectionString = await (await PostgresServer.Shared).CreateDatabaseAsync();
        await using var old = new NpgsqlConnection(connectionString);
        await old.OpenAsync();
        var sql = "CREATE TABLE schema_version (version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
            + string.Join("\n", First("PostgresSchema", migrations))
            + rows + $"INSERT INTO schema_version (version) VALUES {string.Join(", ", Enumerable.Range(1, migrations).Select(v => $"({v})"))};";
        await using var command = new NpgsqlCommand(sql, old);
        await command.ExecuteNonQueryAsync();
        return connectionString;
    }

    private static string[] First(string schema, int count) =>
        ((string[])typeof(SqliteConversationStore).Assembly.GetType($"ChatGrains.Storage.{schema}")!
            .GetField("Migrations", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)[..count];
}
