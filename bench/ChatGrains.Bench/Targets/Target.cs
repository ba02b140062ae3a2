using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ChatGrains.Bench.Measure;

namespace ChatGrains.Bench.Targets;

/// <summary>
/// A server under test, running as its own process on loopback: ChatGrains (the Api in the
/// configuration measured) or the bare-Kestrel baseline. The load generator drives both through
/// the same calls, so the only difference between two runs is the server.
/// </summary>
public abstract class Target : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _logFile;

    protected Target(string name, Process process, Uri baseAddress, string logFile)
    {
        Name = name;
        _process = process;
        BaseAddress = baseAddress;
        _logFile = logFile;
        Control = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Name { get; }
    public Uri BaseAddress { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>For setup and control calls (not the measured streams).</summary>
    protected HttpClient Control { get; }

    public abstract Task<IReadOnlyList<string>> CreateConversationsAsync(int count);

    public abstract HttpRequestMessage WatchRequest(string conversationId, long lastEventId);

    /// <summary>Starts every conversation replying (ChatGrains: prompts; baseline: publishers of frames of about <paramref name="frameBytes"/>).</summary>
    public abstract Task StartRepliesAsync(IReadOnlyList<string> conversations, int frameBytes);

    /// <summary>A watcher of the conversation saw one of its replies complete.</summary>
    public virtual void ReplyCompleted(int conversation) { }

    public abstract Task StopRepliesAsync();

    public abstract Task<long> LastEventIdAsync(string conversationId);

    /// <summary>Resident memory and managed heap, after a full GC when asked.</summary>
    public async Task<ServerMemory> MemoryAsync(bool collect)
    {
        if (collect) await GcTrigger.CollectAsync(ProcessId);
        var counters = await FeedCountersAsync();
        return new ServerMemory(ProcessStats.RssBytes(ProcessId.ToString(CultureInfo.InvariantCulture)), counters.GetProperty("gcHeapBytes").GetInt64());
    }

    /// <summary>How long the server has spent compiling code, in milliseconds (its JIT's own count).</summary>
    public async Task<double> JitMillisecondsAsync() => (await FeedCountersAsync()).GetProperty("jitMilliseconds").GetDouble();

    /// <summary>The server's operator counters (<c>/health/feeds</c>): both servers report the managed heap and the JIT's time.</summary>
    private async Task<JsonElement> FeedCountersAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/feeds");
        AuthorizeAsOperator(request);
        using var response = await Control.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.Clone();
    }

    /// <summary>Adds what the server's operator routes (<c>/health/feeds</c>) require, if anything.</summary>
    protected virtual void AuthorizeAsOperator(HttpRequestMessage request) { }

    public string LogTail()
    {
        try { return string.Join('\n', File.ReadLines(_logFile).TakeLast(30)); }
        catch (IOException) { return ""; }
    }

    public virtual async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        Control.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    /// <summary>Starts <c>dotnet &lt;dll&gt; args</c> with its output in a log file and waits until /health answers.</summary>
    internal static async Task<(Process Process, Uri BaseAddress)> LaunchAsync(string dll, IEnumerable<string> args, string workingDirectory, string logFile,
        IDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}");
        var info = new ProcessStartInfo("bash")
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        // exec: the shell only redirects the output to the log; the pid is the server's.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$LOGFILE\" 2>&1");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add($"--urls={baseAddress.ToString().TrimEnd('/')}");
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["LOGFILE"] = logFile;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var process = ChildProcesses.Start(info);

        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"{dll} exited at start; see {logFile}");
            try
            {
                if ((await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return (process, baseAddress);
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{dll} did not become healthy; see {logFile}");
            }
            await Task.Delay(100);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public readonly record struct ServerMemory(long RssBytes, long GcHeapBytes);
