using System.Text;
using System.Text.Json;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Model;

/// <summary>
/// A local model server for the replies scenario driven by ChatGrains' OpenAI-compatible
/// provider: <c>POST /v1/chat/completions</c> answers every request with Server-Sent Events of
/// <c>chat.completion.chunk</c> objects, as OpenAI streams them — the role, one chunk per token at
/// <c>--tokens-per-second</c>, the finish reason, the usage chunk, <c>data: [DONE]</c>. One timer
/// paces every open answer, so a thousand answers are not a thousand timers. Runs as its own
/// process (<c>ChatGrains.Bench fake-model</c>), so its CPU is not counted as the server's.
/// </summary>
public static class FakeModelServer
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args.Where(a => a.StartsWith("--urls", StringComparison.Ordinal)).ToArray());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var perSecond = ChildArgs.Long(args, "--tokens-per-second", 50);
        var tokens = (int)ChildArgs.Long(args, "--tokens", 100);
        var app = builder.Build();
        var pace = new Pace(TimeSpan.FromSeconds(1.0 / perSecond), app.Lifetime.ApplicationStopping);
        var chunks = Enumerable.Range(0, tokens).Select(i => Chunk(new { content = Words[i % Words.Length] }, null)).ToArray();
        var first = Chunk(new { role = "assistant", content = "" }, null);
        var last = Chunk(new { }, "stop");
        var usage = Encoding.UTF8.GetBytes("data: " + JsonSerializer.Serialize(new
        {
            id = "chatcmpl-bench", @object = "chat.completion.chunk", created = 0, model = "bench", choices = Array.Empty<object>(),
            usage = new { prompt_tokens = 40, completion_tokens = tokens, total_tokens = 40 + tokens },
        }) + "\n\n");
        var done = "data: [DONE]\n\n"u8.ToArray();
        app.MapGet("/health", () => "ok");
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            var cancel = http.RequestAborted;
            http.Response.ContentType = "text/event-stream";
            var body = http.Response.BodyWriter;
            await body.WriteAsync(first, cancel);
            foreach (var chunk in chunks)
            {
                await pace.NextAsync();
                await body.WriteAsync(chunk, cancel);
            }
            await body.WriteAsync(last, cancel);
            await body.WriteAsync(usage, cancel);
            await body.WriteAsync(done, cancel);
        });
        await app.RunAsync();
        return 0;
    }

    private static readonly string[] Words = "Grains fan each token out to every tab that watches the conversation, in order, once. ".Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w + " ").ToArray();

    private static byte[] Chunk(object delta, string? finish) => Encoding.UTF8.GetBytes("data: " + JsonSerializer.Serialize(new
    {
        id = "chatcmpl-bench", @object = "chat.completion.chunk", created = 0, model = "bench",
        choices = new object[] { new { index = 0, delta, finish_reason = finish } },
    }) + "\n\n");

    /// <summary>One beat for every open answer: each awaits the next tick.</summary>
    private sealed class Pace
    {
        private TaskCompletionSource _tick = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Pace(TimeSpan interval, CancellationToken stop) => _ = RunAsync(interval, stop);

        public Task NextAsync() => Volatile.Read(ref _tick).Task;

        private async Task RunAsync(TimeSpan interval, CancellationToken stop)
        {
            using var timer = new PeriodicTimer(interval);
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                    Interlocked.Exchange(ref _tick, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
            }
            catch (OperationCanceledException) { }
        }
    }
}

/// <summary>The fake model server as a child process of a run, for ChatGrains' OpenAI-compatible provider to call.</summary>
public sealed class FakeModel : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;

    private FakeModel(System.Diagnostics.Process process, Uri baseAddress) => (_process, Endpoint) = (process, new Uri(baseAddress, "v1").AbsoluteUri);

    /// <summary>The value to give <c>Generator:Endpoint</c>.</summary>
    public string Endpoint { get; }

    public static async Task<FakeModel> StartAsync(string logDirectory, double tokensPerSecond)
    {
        var log = Path.Combine(logDirectory, $"fake-model-{DateTime.UtcNow:HHmmss}.log");
        var dll = typeof(FakeModel).Assembly.Location;
        var (process, baseAddress) = await Target.LaunchAsync(dll,
            ["fake-model", $"--tokens-per-second={(long)tokensPerSecond}"], Path.GetDirectoryName(dll)!, log);
        return new FakeModel(process, baseAddress);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
