using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Bench.Targets;

/// <summary>
/// ChatGrains as a user runs it: the embedded single node (<c>dotnet Api.dll</c>, co-hosted silo,
/// SQLite in a temporary folder), on free ports, with rate limits raised for the load generator
/// and <c>Conversation:StampEventTimes</c> on so events carry their creation time.
/// Replies come from the embedded generator; each conversation always has one prompt queued
/// behind the reply in progress, and a new one is posted whenever a reply completes.
/// </summary>
public sealed class ChatGrainsTarget : Target
{
    private readonly string _dataDirectory;
    private readonly string _token;
    private readonly string _operatorKey;
    private readonly ConcurrentDictionary<Task, byte> _posts = new();
    private IReadOnlyList<string> _replying = [];
    private int[] _prompts = [];
    private volatile bool _running;
    private IAsyncDisposable? _companion;

    private ChatGrainsTarget(System.Diagnostics.Process process, Uri baseAddress, string logFile, string dataDirectory, string token, string operatorKey)
        : base("ChatGrains", process, baseAddress, logFile)
    {
        _dataDirectory = dataDirectory;
        _token = token;
        _operatorKey = operatorKey;
        Control.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary><paramref name="companion"/>: a process the server depends on (the fake model), stopped with it.</summary>
    public static async Task<ChatGrainsTarget> StartAsync(string repositoryRoot, string logDirectory, IDictionary<string, string> settings,
        IAsyncDisposable? companion = null)
    {
        var data = Directory.CreateTempSubdirectory("chatgrains-bench-").FullName;
        var log = Path.Combine(logDirectory, $"chatgrains-{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}.log");
        var all = new Dictionary<string, string>
        {
            ["Storage:Sqlite:DataSource"] = Path.Combine(data, "chatgrains.db"),
            ["Auth:KeyFile"] = Path.Combine(data, "signing-key"),
            ["Orleans:SiloPort"] = FreePort().ToString(),
            ["Orleans:GatewayPort"] = FreePort().ToString(),
            ["RateLimits:SignInsPerMinute"] = "1000000",
            ["RateLimits:PromptsPerMinute"] = "1000000",
            ["Conversation:StampEventTimes"] = "true",
            // /health/feeds (the managed heap) is for operators only.
            ["Operators:Key"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)),
        };
        foreach (var (k, v) in settings) all[k] = v;
        var dll = Path.Combine(repositoryRoot, "Api", "bin", "Release", "net10.0", "Api.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"Build the Api first: dotnet build -c Release Api ({dll} is missing)");
        // The content root is the build output, so the Api's own appsettings.json (log levels) applies
        // as when it runs from its folder; the data lives in the temporary folder.
        all["contentRoot"] = Path.GetDirectoryName(dll)!;
        var (process, baseAddress) = await LaunchAsync(dll, all.Select(kv => $"--{kv.Key}={kv.Value}"), data, log);

        using var http = new HttpClient { BaseAddress = baseAddress };
        var signIn = await http.PostAsJsonAsync("/api/auth/guest", new { name = "bench" });
        signIn.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync());
        return new ChatGrainsTarget(process, baseAddress, log, data, json.RootElement.GetProperty("token").GetString()!, all["Operators:Key"])
        {
            _companion = companion,
        };
    }

    public override async Task<IReadOnlyList<string>> CreateConversationsAsync(int count)
    {
        var ids = new string[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var response = await Control.PostAsJsonAsync("/api/conversations", new { title = $"bench {i}" }, ct);
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            ids[i] = json.RootElement.GetProperty("id").GetString()!;
        });
        return ids;
    }

    protected override void AuthorizeAsOperator(HttpRequestMessage request) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _operatorKey);

    public override HttpRequestMessage WatchRequest(string conversationId, long lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, $"/api/conversations/{conversationId}/events"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId.ToString());
        return request;
    }

    public override async Task StartRepliesAsync(IReadOnlyList<string> conversations, int frameBytes)
    {
        _replying = conversations;
        _prompts = new int[conversations.Count];
        _running = true;
        // The first prompt starts a reply; the second waits queued behind it, so the next reply
        // starts the moment one ends.
        await Parallel.ForEachAsync(Enumerable.Range(0, conversations.Count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            await PostAsync(i);
            await PostAsync(i);
        });
    }

    public override void ReplyCompleted(int conversation)
    {
        if (!_running) return;
        var post = PostAsync(conversation);
        _posts.TryAdd(post, 0);
        _ = post.ContinueWith(t => _posts.TryRemove(t, out _), TaskScheduler.Default);
    }

    public override async Task StopRepliesAsync()
    {
        _running = false;
        await Task.WhenAll(_posts.Keys);
    }

    public override async Task<long> LastEventIdAsync(string conversationId)
    {
        using var json = JsonDocument.Parse(await Control.GetStringAsync($"/api/conversations/{conversationId}"));
        return json.RootElement.GetProperty("lastEventId").GetInt64();
    }

    private async Task PostAsync(int conversation)
    {
        var n = Interlocked.Increment(ref _prompts[conversation]);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{_replying[conversation]}/messages")
        {
            Content = JsonContent.Create(new { content = $"Benchmark prompt {n} in conversation {conversation}: how do grains fan tokens out to many tabs?" }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await Control.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_companion is not null) await _companion.DisposeAsync();
        try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { }
    }
}
