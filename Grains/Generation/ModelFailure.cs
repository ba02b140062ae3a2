using System.ClientModel;
using System.Net;
using System.Text.RegularExpressions;
using OllamaSharp.Models.Exceptions;

namespace ChatGrains.Generation;

/// <summary>
/// Turns whatever a model client threw into the one sentence a reply's <c>error</c> shows. It
/// names what went wrong and where (the endpoint, never a header), and redacts the API key and
/// anything that looks like a bearer token, since some servers echo request details back.
/// </summary>
public sealed partial class ModelFailure(GeneratorOptions options)
{
    private const int MaxDetail = 300;
    private readonly string _endpoint = options.Endpoint?.Trim().TrimEnd('/') ?? "the model";
    private readonly int _attempts = options.MaxRetries + 1;

    public string IdleBeforeFirstToken() =>
        $"The model at {_endpoint} did not start answering within {Seconds(options.IdleTimeout)}.";

    public string IdleMidReply() =>
        $"The model stopped sending tokens: nothing for {Seconds(options.IdleTimeout)}, so the reply was ended with the text so far.";

    public static string EndedEarly() =>
        "The model's stream ended before the reply was finished; the reply keeps the text so far.";

    public string Describe(Exception error, bool midReply)
    {
        if (Find<ClientResultException>(error) is { Status: > 0 } result) return ForStatus(result.Status, Detail(result.Message));
        if (Find<HttpRequestException>(error) is { StatusCode: { } status }) return ForStatus((int)status, null);
        if (Find<OllamaException>(error) is { } ollama) return $"The model at {_endpoint} refused the request: {Detail(ollama.Message)}";
        if (Find<ResponseError>(error) is { } streamed) return $"The model at {_endpoint} reported an error: {Detail(streamed.Message)}";

        if (midReply && (Find<IOException>(error) is not null || Find<HttpRequestException>(error) is not null || Find<ObjectDisposedException>(error) is not null))
            return "The connection to the model was lost mid-reply; the reply keeps the text so far.";
        if (Find<HttpRequestException>(error) is { } request)
        {
            var cause = Find<System.Net.Sockets.SocketException>(request)?.Message ?? request.HttpRequestError.ToString();
            return $"Could not reach the model at {_endpoint} ({Detail(cause)}), after {Attempts}.";
        }
        if (Find<IOException>(error) is not null)
            return $"The connection to the model at {_endpoint} was lost before it answered.";
        return $"The model failed ({error.GetType().Name}): {Detail(error.Message)}";
    }

    private string Attempts => _attempts == 1 ? "1 attempt" : $"{_attempts} attempts";

    private string ForStatus(int status, string? detail)
    {
        var reason = $"{status} {ReasonPhrase(status)}";
        var said = string.IsNullOrEmpty(detail) ? "" : $": {detail}";
        return status switch
        {
            401 or 403 => $"The model at {_endpoint} refused the credentials ({reason}); check Generator:ApiKey{said}",
            404 => $"The model at {_endpoint} answered {reason}; check Generator:Endpoint and Generator:Model{said}",
            429 => $"The model at {_endpoint} is rate limiting requests ({reason}){said}",
            408 or >= 500 => $"The model at {_endpoint} failed with {reason}, after {Attempts}{said}",
            _ => $"The model at {_endpoint} refused the request ({reason}){said}",
        };
    }

    /// <summary>A server's own words, on one line, short, with secrets taken out.</summary>
    private string Detail(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var detail = Whitespace().Replace(text, " ").Trim();
        if (!string.IsNullOrEmpty(options.ApiKey)) detail = detail.Replace(options.ApiKey, "[redacted]", StringComparison.Ordinal);
        detail = BearerToken().Replace(detail, "Bearer [redacted]");
        detail = KeyLike().Replace(detail, "[redacted]");
        return detail.Length <= MaxDetail ? detail : detail[..MaxDetail] + "…";
    }

    private static string ReasonPhrase(int status) =>
        Enum.IsDefined(typeof(HttpStatusCode), status) ? Regex.Replace(((HttpStatusCode)status).ToString(), "(?<=[a-z])(?=[A-Z])", " ") : "";

    private static string Seconds(TimeSpan time) => time.TotalSeconds >= 1 ? $"{time.TotalSeconds:0.#} s" : $"{time.TotalMilliseconds:0} ms";

    private static T? Find<T>(Exception? error) where T : Exception
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is T found) return found;
        }
        return null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"Bearer\s+\S+", RegexOptions.IgnoreCase)]
    private static partial Regex BearerToken();

    // OpenAI-style keys (sk-…, sk-proj-…), even partly masked.
    [GeneratedRegex(@"\bsk-[A-Za-z0-9_\-\*]{6,}")]
    private static partial Regex KeyLike();
}
