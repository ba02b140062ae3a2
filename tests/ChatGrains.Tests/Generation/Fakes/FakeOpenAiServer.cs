using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ChatGrains.Tests.Generation.Fakes;

/// <summary>
/// An OpenAI-compatible server (POST /v1/chat/completions): Server-Sent Events of
/// <c>chat.completion.chunk</c> objects — the role, one chunk per token, the finish reason, the
/// usage chunk when <c>stream_options.include_usage</c> asks for it — then <c>data: [DONE]</c>.
/// </summary>
public sealed class FakeOpenAiServer() : FakeModelServer("/v1/chat/completions")
{
    public const int PromptTokens = 1234;

    /// <summary>The value to give Generator:Endpoint.</summary>
    public string Endpoint => new Uri(Address, "v1").AbsoluteUri;

    protected override async Task StreamAsync(HttpContext context, JsonNode request, Answer.Stream answer, ReceivedRequest received)
    {
        context.Response.ContentType = "text/event-stream";
        var model = request["model"]?.GetValue<string>() ?? "fake";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string Chunk(object? delta, string? finish, object? usage = null, bool noChoices = false) =>
            "data: " + JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["id"] = "chatcmpl-fake",
                ["object"] = "chat.completion.chunk",
                ["created"] = created,
                ["model"] = model,
                ["choices"] = noChoices ? Array.Empty<object>() : new object[] { new { index = 0, delta, finish_reason = finish } },
                ["usage"] = usage,
            }) + "\n\n";

        await context.Response.WriteAsync(Chunk(new { role = "assistant", content = "" }, null), context.RequestAborted);
        if (!await WriteTokensAsync(context, answer, received, token => Chunk(new { content = token }, null))) return;
        await context.Response.WriteAsync(Chunk(new { }, "stop"), context.RequestAborted);
        if (answer.ReportUsage && request["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            var usage = new { prompt_tokens = PromptTokens, completion_tokens = answer.Tokens.Length, total_tokens = PromptTokens + answer.Tokens.Length };
            await context.Response.WriteAsync(Chunk(null, null, usage, noChoices: true), context.RequestAborted);
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }
}
