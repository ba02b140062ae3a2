using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ChatGrains.Tests.Generation.Fakes;

/// <summary>
/// An Ollama server (POST /api/chat): newline-delimited JSON, one object per token with
/// <c>done: false</c>, then a last object with <c>done: true</c>, the done reason, and the
/// token counts (<c>prompt_eval_count</c>, <c>eval_count</c>).
/// </summary>
public sealed class FakeOllamaServer() : FakeModelServer("/api/chat")
{
    public const int PromptTokens = 321;

    /// <summary>The value to give Generator:Endpoint.</summary>
    public string Endpoint => Address.AbsoluteUri;

    protected override async Task StreamAsync(HttpContext context, JsonNode request, Answer.Stream answer, ReceivedRequest received)
    {
        context.Response.ContentType = "application/x-ndjson";
        var model = request["model"]?.GetValue<string>() ?? "fake";
        string Line(string content) => JsonSerializer.Serialize(new
        {
            model,
            created_at = DateTimeOffset.UtcNow.ToString("O"),
            message = new { role = "assistant", content },
            done = false,
        }) + "\n";

        if (!await WriteTokensAsync(context, answer, received, Line)) return;
        var done = new Dictionary<string, object?>
        {
            ["model"] = model,
            ["created_at"] = DateTimeOffset.UtcNow.ToString("O"),
            ["message"] = new { role = "assistant", content = "" },
            ["done"] = true,
            ["done_reason"] = "stop",
            ["total_duration"] = 5_000_000,
            ["load_duration"] = 1_000_000,
        };
        if (answer.ReportUsage)
        {
            done["prompt_eval_count"] = PromptTokens;
            done["prompt_eval_duration"] = 1_000_000;
            done["eval_count"] = answer.Tokens.Length;
            done["eval_duration"] = 2_000_000;
        }
        await context.Response.WriteAsync(JsonSerializer.Serialize(done) + "\n", context.RequestAborted);
    }
}
