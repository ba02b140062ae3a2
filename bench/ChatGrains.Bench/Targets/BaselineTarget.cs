using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Bench.Targets;

/// <summary>
/// The bare-Kestrel baseline (<see cref="Baseline.BaselineServer"/>), started as a child process
/// of this same program, so its memory and CPU are its own and it shares nothing with the
/// load generator but the machine.
/// </summary>
public sealed class BaselineTarget : Target
{
    private BaselineTarget(System.Diagnostics.Process process, Uri baseAddress, string logFile)
        : base("Baseline", process, baseAddress, logFile)
    {
    }

    public static async Task<BaselineTarget> StartAsync(string logDirectory, TimeSpan heartbeatInterval, TimeSpan eventInterval)
    {
        var log = Path.Combine(logDirectory, $"baseline-{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}.log");
        var self = typeof(BaselineTarget).Assembly.Location;
        var (process, baseAddress) = await LaunchAsync(self,
            ["baseline-server", $"--heartbeat-ms={(long)heartbeatInterval.TotalMilliseconds}", $"--event-interval-ms={(long)eventInterval.TotalMilliseconds}"],
            AppContext.BaseDirectory, log);
        return new BaselineTarget(process, baseAddress, log);
    }

    public override async Task<IReadOnlyList<string>> CreateConversationsAsync(int count)
    {
        var response = await Control.PostAsync($"/bench/conversations?count={count}", null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<string[]>())!;
    }

    public override HttpRequestMessage WatchRequest(string conversationId, long lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, $"/api/conversations/{conversationId}/events"));
        request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId.ToString());
        return request;
    }

    public override async Task StartRepliesAsync(IReadOnlyList<string> conversations, int frameBytes) =>
        (await Control.PostAsync($"/bench/publish?frameBytes={frameBytes}", null)).EnsureSuccessStatusCode();

    public override async Task StopRepliesAsync() => (await Control.PostAsync("/bench/stop", null)).EnsureSuccessStatusCode();

    public override async Task<long> LastEventIdAsync(string conversationId)
    {
        using var json = JsonDocument.Parse(await Control.GetStringAsync($"/bench/conversations/{conversationId}"));
        return json.RootElement.GetProperty("lastEventId").GetInt64();
    }
}
