using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Tests.Generation.Fakes;

/// <summary>
/// A model server on a real loopback socket (Kestrel), speaking a provider's real streaming
/// wire format, so the real client libraries are what talk to it. Each request takes the next
/// scripted <see cref="Answer"/> (when the script is empty, a plain streamed reply), and is
/// recorded with its body, its Authorization header, and whether the client aborted it.
/// </summary>
public abstract class FakeModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Answer> _script = new();

    protected FakeModelServer(string path)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapPost(path, HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address);
    }

    /// <summary>The server's root, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>The reply streamed when nothing else is scripted.</summary>
    public string[] DefaultTokens { get; set; } = ["Hello", ",", " Ada", "!", " Grains", " are", " virtual", " actors", "."];

    /// <summary>The pause before each token.</summary>
    public TimeSpan TokenInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    public FakeModelServer Then(Answer answer)
    {
        _script.Enqueue(answer);
        return this;
    }

    public ReceivedRequest LastRequest => Requests.Last();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected abstract Task StreamAsync(HttpContext context, JsonNode request, Answer.Stream answer, ReceivedRequest received);

    private async Task HandleAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body) ?? new JsonObject();
        var received = new ReceivedRequest(body, context.Request.Headers.Authorization.ToString(), DateTimeOffset.UtcNow);
        context.RequestAborted.Register(() => received.MarkAborted());
        Requests.Enqueue(received);

        var answer = _script.TryDequeue(out var next) ? next : new Answer.Stream(DefaultTokens);
        switch (answer)
        {
            case Answer.Fail fail:
                context.Response.StatusCode = fail.Status;
                if (fail.RetryAfter is { } wait) context.Response.Headers.RetryAfter = ((int)wait.TotalSeconds).ToString();
                var message = fail.EchoAuthorization ? $"Bad credentials: {received.Authorization}" : fail.Message;
                await context.Response.WriteAsJsonAsync(new { error = new { message, type = "fake_error" } });
                break;
            case Answer.Stream stream:
                try { await StreamAsync(context, body, stream, received); }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }
                catch (IOException) when (context.RequestAborted.IsCancellationRequested) { }
                break;
        }
    }

    /// <summary>Writes the tokens one by one with the scripted pacing and faults; false if it was cut short.</summary>
    protected async Task<bool> WriteTokensAsync(HttpContext context, Answer.Stream answer, ReceivedRequest received, Func<string, string> frame)
    {
        var aborted = context.RequestAborted;
        for (var i = 0; i < answer.Tokens.Length; i++)
        {
            if (i == answer.StallAfter)
            {
                await Task.Delay(Timeout.Infinite, aborted);
            }
            if (i == answer.EndAfter) return false;
            if (i == answer.DropAfter)
            {
                // A reset discards what the client has not read yet: let it read what was sent.
                await Task.Delay(200, aborted);
                context.Abort();
                return false;
            }
            await Task.Delay(TokenInterval, aborted);
            await context.Response.WriteAsync(frame(answer.Tokens[i]), aborted);
            await context.Response.Body.FlushAsync(aborted);
            received.TokensSent++;
        }
        return true;
    }
}

/// <summary>What the fake server does with one request.</summary>
public abstract record Answer
{
    /// <summary>
    /// Streams <paramref name="Tokens"/>; before token <paramref name="StallAfter"/> it stalls forever, before
    /// <paramref name="DropAfter"/> it drops the connection, before <paramref name="EndAfter"/> it ends the
    /// response cleanly but without the provider's end-of-answer marker.
    /// </summary>
    public sealed record Stream(string[] Tokens, int? StallAfter = null, int? DropAfter = null, bool ReportUsage = true, int? EndAfter = null) : Answer;

    /// <summary>Answers an error status with a JSON error body, optionally echoing the request's Authorization header.</summary>
    public sealed record Fail(int Status, TimeSpan? RetryAfter = null, string Message = "fake failure", bool EchoAuthorization = false) : Answer;
}

public sealed class ReceivedRequest(JsonNode body, string authorization, DateTimeOffset receivedAt)
{
    private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public JsonNode Body { get; } = body;
    public string Authorization { get; } = authorization;
    public DateTimeOffset ReceivedAt { get; } = receivedAt;
    public volatile int TokensSent;

    /// <summary>Completes when the client closed the connection before the response ended.</summary>
    public Task Aborted => _aborted.Task;

    internal void MarkAborted() => _aborted.TrySetResult();

    /// <summary>The chat messages as (role, content) pairs.</summary>
    public List<(string Role, string Content)> Messages =>
        Body["messages"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
}
