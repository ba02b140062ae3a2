using System.Diagnostics;
using Npgsql;

namespace ChatGrains.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL 15 built from the machine's binaries: a fresh data directory, a free
/// loopback port, no fsync. <see cref="Shared"/> is started once per test run; tests take a fresh
/// database each with <see cref="CreateDatabaseAsync"/>. Every server is stopped and its
/// directory deleted when the test process ends, however it ends.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(StartAsync);

    private readonly string _directory;
    private int _stopped;

    private PostgresServer(string directory, int port)
    {
        _directory = directory;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres";
    }

    /// <summary>The server every test in this process shares.</summary>
    public static Task<PostgresServer> Shared => SharedServer.Value;

    /// <summary>Connects as the superuser to the <c>postgres</c> database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Starts a server of its own (most tests want <see cref="Shared"/>).</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        if (!File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            throw new InvalidOperationException(
                $"PostgreSQL 15 is not installed ({BinDirectory}/pg_ctl is missing): run `apt-get install -y postgresql`.");
        }

        // initdb creates the directory itself, owned by the user it runs as, with mode 700.
        var directory = Path.Combine(Path.GetTempPath(), "chatgrains-pg-" + Guid.NewGuid().ToString("N"));
        await RunAsync("initdb", "-D", directory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync");
        StartJanitor(directory);

        // The port was free a moment ago; another process may take it first, so try a few.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var settings = $"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off -c max_connections=200";
            try
            {
                await RunAsync("pg_ctl", "-D", directory, "-l", Path.Combine(directory, "server.log"), "-w", "-o", settings, "start");
                return new PostgresServer(directory, port);
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>Stops the server at once (no checkpoint: its data is thrown away) and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        try
        {
            await RunAsync("pg_ctl", "-D", _directory, "-m", "immediate", "-w", "stop");
        }
        finally
        {
            try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// A detached shell that waits for this process to end, then stops the server (if still up)
    /// and deletes its directory. This is how <see cref="Shared"/> is cleaned up: an exit handler
    /// is not enough, the test host was killed half-way through deleting the directory. It also
    /// covers a crashed or killed run.
    /// </summary>
    private static void StartJanitor(string directory)
    {
        var script = $"""
            exec </dev/null >/dev/null 2>&1
            while [ -d /proc/{Environment.ProcessId} ]; do sleep 1; done
            {PostgresCommand("pg_ctl")} -D '{directory}' -m immediate -w stop
            rm -rf '{directory}'
            """;
        var info = new ProcessStartInfo("sh") { UseShellExecute = false, WorkingDirectory = Path.GetTempPath() };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        Process.Start(info)!.Dispose();
    }

    private static string PostgresCommand(string tool) =>
        (IsRoot ? "runuser -u postgres -- " : "") + Path.Combine(BinDirectory, tool);

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs a PostgreSQL tool, as the postgres user when we are root (initdb refuses root).</summary>
    private static async Task RunAsync(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(IsRoot ? "runuser" : Path.Combine(BinDirectory, tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(), // one the postgres user can enter
        };
        if (IsRoot)
        {
            foreach (var argument in (string[])["-u", "postgres", "--", Path.Combine(BinDirectory, tool)]) info.ArgumentList.Add(argument);
        }
        foreach (var argument in arguments) info.ArgumentList.Add(argument);

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            var log = arguments.SkipWhile(a => a != "-l").Skip(1).FirstOrDefault() is { } path && File.Exists(path) ? File.ReadAllText(path) : "";
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}{await error}{log}");
        }
    }
}
