using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace ChatGrains.Api;

/// <summary>
/// The one place exceptions become problems: the API's own <see cref="ApiProblem"/>s and the
/// grain's <see cref="ConversationException"/>s, with the contract's status codes, and the
/// cluster's passing troubles (a silo just died, a call timed out) as 503 with a Retry-After:
/// the client may retry, a POST with the same Idempotency-Key posting at most once.
/// <see cref="ProblemJsonWriter"/> writes them, under any Accept.
/// </summary>
public sealed partial class ProblemMapping(IProblemDetailsService problems, ILogger<ProblemMapping> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            ApiProblem p => (p.Status, p.Title),
            ConversationException { Kind: ConversationErrorKind.NotFound } => (StatusCodes.Status404NotFound, "Not found"),
            ConversationException { Kind: ConversationErrorKind.Conflict } => (StatusCodes.Status409Conflict, "Conflict"),
            ConversationException { Kind: ConversationErrorKind.BadRequest } => (StatusCodes.Status400BadRequest, "Bad request"),
            ConversationException { Kind: ConversationErrorKind.Forbidden } => (StatusCodes.Status403Forbidden, "Forbidden"),
            ConversationException { Kind: ConversationErrorKind.IdempotencyKeyReused } => (StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused"),
            ConversationException { Kind: ConversationErrorKind.OverBudget } => (StatusCodes.Status429TooManyRequests, "Over the daily token budget"),
            var e when PassingTrouble.IsStoreUnavailable(e) => (StatusCodes.Status503ServiceUnavailable, "The conversation store is unavailable; try again shortly"),
            var e when PassingTrouble.IsClusterRecovering(e) => (StatusCodes.Status503ServiceUnavailable, "The cluster is recovering; try again shortly"),
            // Kestrel's own refusals of a request it could not read (a broken chunked body, say).
            BadHttpRequestException b => (b.StatusCode, ReasonPhrases.GetReasonPhrase(b.StatusCode)),
            _ => (0, ""),
        };
        if (status == 0)
        {
            // A 500: a bug or a failure nobody mapped. Said here, with the route, so that it is
            // always in the log (the framework's own line can be suppressed or lost).
            LogUnmapped(exception, http.Request.Method, http.Request.Path);
            return false;
        }
        if (http.Response.HasStarted) return false;
        http.Response.StatusCode = status;
        if (status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "2";
        var problem = new ProblemDetails { Status = status, Title = title, Detail = exception.Message };
        if (exception is ConversationException { Kind: ConversationErrorKind.OverBudget, ResetsAt: { } resetsAt } over)
        {
            // Seconds to the next UTC midnight, by the clock of the grain that refused.
            http.Response.Headers.RetryAfter = over.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            problem.Extensions["resetsAt"] = resetsAt;
        }
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = problem,
        });
    }

    /// <summary>Writes a refusal made outside the endpoints (the JWT challenge, the rate limiter).</summary>
    public static async Task WriteAsync(HttpContext http, int status, string title, string detail)
    {
        http.Response.StatusCode = status;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed with an exception no problem maps: answered 500")]
    private partial void LogUnmapped(Exception exception, string method, string path);
}
