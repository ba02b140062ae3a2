using System.Diagnostics;
using System.Text.Json;
using ChatGrains.Tests.Api;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Runtime;

namespace ChatGrains.Tests.Cluster;

/// <summary>
/// The real cluster — Redis, PostgreSQL, three silos and two API hosts as separate processes —
/// started and stopped with <c>scripts/cluster</c>, the same script a person uses. Tests kill
/// and restart its processes through the script too.
/// </summary>
public sealed class LocalCluster : IAsyncLifetime
{
    public const int Silos = 3;
    public const int TokensPerUserPerDay = 60_000;
    private readonly TempDirectory _state = new();
    // Each cluster takes 50 ports from its base. The bases stay below Linux's ephemeral range
    // (32768 and up), where the test run's own outgoing connections and FreePort's listeners
    // take ports at random and a silo could find its port taken; and clusters of one run (the
    // cluster and outage collections start theirs at the same time) never share a base.
    private static int _nextBase = Random.Shared.Next(0, 250);
    private readonly int _base = 20_000 + Interlocked.Increment(ref _nextBase) % 250 * 50;
    private IHost? _orleansClient;

    public Uri Api(int n) => new($"http://127.0.0.1:{_base + 40 + n}");

    public async Task InitializeAsync()
    {
        await RunAsync("start");
    }

    public async Task DisposeAsync()
    {
        if (_orleansClient is not null) await _orleansClient.StopAsync();
        await RunAsync("stop");
        KeepLogs();
        _state.Dispose();
    }

    /// <summary>
    /// The processes' logs outlive the cluster's directory, in TestResults/cluster-logs: a host
    /// that died during a run is explained there (its last lines are also in any failure of the
    /// script itself).
    /// </summary>
    private void KeepLogs()
    {
        var folder = Path.Combine(RepositoryRoot, "TestResults", "cluster-logs", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{_base}");
        Directory.CreateDirectory(folder);
        foreach (var log in Directory.GetFiles(_state.Path, "*.log")) File.Copy(log, Path.Combine(folder, Path.GetFileName(log)));
    }

    public Task KillAsync(string role, int n) => RunAsync("kill", role, n.ToString());
    public Task TerminateAsync(string role, int n) => RunAsync("term", role, n.ToString());
    public Task StartAsync(string role, int n) => RunAsync("up", role, n.ToString());
    public async Task StopAllAsync()
    {
        // The test's own Orleans client belongs to the cluster being stopped.
        if (_orleansClient is not null) await _orleansClient.StopAsync();
        _orleansClient?.Dispose();
        _orleansClient = null;
        await RunAsync("stop");
    }
    public Task StartAllAsync() => RunAsync("start");

    /// <summary>Stops Redis or PostgreSQL (an outage); the data is kept.</summary>
    public Task StopServerAsync(string server) => RunAsync("stop", server);

    /// <summary>Starts Redis or PostgreSQL again; <paramref name="empty"/> starts Redis without its data.</summary>
    public Task StartServerAsync(string server, bool empty = false) => empty ? RunAsync("up", server, "--empty") : RunAsync("up", server);

    /// <summary>
    /// The silos (1–3) whose newest row in Redis' membership table says Active: the table the API
    /// hosts find their gateways in, read directly.
    /// </summary>
    public async Task<IReadOnlySet<int>> ActiveSilosInMembershipTableAsync() => (await MembershipTableAsync()).Active;

    /// <summary>The membership table's version (-1 when it has none) and the silos it says are Active.</summary>
    public async Task<(long Version, IReadOnlySet<int> Active)> MembershipTableAsync()
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_base},abortConnect=false");
        var rows = await redis.GetDatabase().HashGetAllAsync("chatgrains/members/chatgrains-local");
        var version = rows.FirstOrDefault(r => r.Name == "Version").Value is { HasValue: true } v ? long.Parse(v.ToString()) : -1;
        return (version, rows.Where(r => r.Name != "Version")
            .Select(r => JsonDocument.Parse(r.Value.ToString()).RootElement)
            .Select(e => (Address: e.GetProperty("SiloAddress").GetProperty("SiloAddress").GetString()!, Status: e.GetProperty("Status").GetInt32()))
            .Select(e => (Silo: int.Parse(e.Address.Split(':', '@')[1]) - (_base + 10), Generation: long.Parse(e.Address.Split('@')[1]), e.Status))
            .GroupBy(e => e.Silo)
            .Where(g => g.MaxBy(e => e.Generation).Status == 3) // SiloStatus.Active
            .Select(g => g.Key)
            .ToHashSet());
    }

    public async Task<ApiUser> SignInAsync(int apiHost, string name)
    {
        var user = new ApiUser(HttpTo(apiHost));
        await user.SignInAsync(name);
        return user;
    }

    /// <summary>A conversation of Ada's, signed in on API host 1, shared with Bob on API host 2; and its latest event id.</summary>
    public async Task<(ApiUser Ada, ApiUser Bob, string Id, long From)> SharedConversationAsync()
    {
        var ada = await SignInAsync(1, "Ada");
        var bob = await SignInAsync(2, "Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        return (ada, bob, id, await ada.LastEventIdAsync(id));
    }

    public HttpClient HttpTo(int apiHost) => new() { BaseAddress = Api(apiHost), Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Which silo (1–3) hosts a conversation's grain, asked of the cluster itself.</summary>
    public async Task<int> SiloHostingAsync(string conversationId)
    {
        var client = await OrleansClientAsync();
        var grain = client.GetGrain<IConversationGrain>(conversationId);
        var address = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain)
            ?? throw new InvalidOperationException($"Conversation {conversationId} is not active anywhere.");
        return address.Endpoint.Port - (_base + 10);
    }

    /// <summary>An API host's feed counters, read from its diagnostics endpoint with the operator key the script made.</summary>
    public async Task<JsonElement> FeedCountersAsync(int apiHost)
    {
        using var http = HttpTo(apiHost);
        http.DefaultRequestHeaders.Authorization = new("Bearer", OperatorKey);
        return JsonDocument.Parse(await http.GetStringAsync("/health/feeds")).RootElement.Clone();
    }

    /// <summary>The key operator routes accept, which <c>scripts/cluster</c> generated and gave every API host.</summary>
    public string OperatorKey => File.ReadAllText(Path.Combine(_state.Path, "operator-key")).Trim();

    private async Task<IClusterClient> OrleansClientAsync()
    {
        if (_orleansClient is null)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(c => c
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("chatgrains-local", "chatgrains"))
                .UseRedisClustering($"127.0.0.1:{_base}"));
            _orleansClient = builder.Build();
            await _orleansClient.StartAsync();
        }
        return _orleansClient.Services.GetRequiredService<IClusterClient>();
    }

    private async Task RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(RepositoryRoot, "scripts", "cluster"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["CLUSTER_DIR"] = _state.Path;
        info.Environment["CLUSTER_PORT_BASE"] = _base.ToString();
        info.Environment["CLUSTER_NO_BUILD"] = "1"; // the test build already built Silo and Api
        info.Environment["CLUSTER_CONFIGURATION"] = BuildConfiguration;
        info.Environment["CLUSTER_DRAIN"] = "00:00:30";
        info.Environment["CLUSTER_TOKENS_PER_SECOND"] = "25";
        // Far above what the other tests' users spend (a few short prompts each); BudgetClusterTests crosses it.
        info.Environment["CLUSTER_TOKENS_PER_USER_PER_DAY"] = TokensPerUserPerDay.ToString();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/cluster {string.Join(' ', args)} failed ({process.ExitCode}):\n{await stdout}\n{await stderr}\n{Logs()}");
    }

    private string Logs() => string.Join("\n", Directory.GetFiles(_state.Path, "*.log").Select(f => $"--- {Path.GetFileName(f)}\n{string.Join('\n', File.ReadLines(f).TakeLast(30))}"));

    private static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChatGrains.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("ChatGrains.sln not found above the test binaries.");
        }
    }

    /// <summary>Debug or Release: the configuration these tests (and so Silo and Api) were built in.</summary>
    private static string BuildConfiguration =>
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<LocalCluster>
{
    public const string Name = "cluster";
}
