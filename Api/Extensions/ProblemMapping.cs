using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace ChatGrains.Api;

/// <summary>
/// The one place refusals become problem+json: the API's own <see cref="ApiProblem"/>s and
/// the grain's <see cref="ConversationException"/>s, with the contract's status codes.
/// </summary>
public sealed class ProblemMapping(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            ApiProblem p => (p.Status, p.Title),
            ConversationException { Kind: ConversationErrorKind.NotFound } => (StatusCodes.Status404NotFound, "Not found"),
            ConversationException { Kind: ConversationErrorKind.Conflict } => (StatusCodes.Status409Conflict, "Conflict"),
            ConversationException { Kind: ConversationErrorKind.IdempotencyKeyReused } => (StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused"),
            _ => (0, ""),
        };
        if (status == 0 || http.Response.HasStarted) return false;
        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = exception.Message },
        });
    }

    public static async Task WriteAsync(HttpContext http, int status, string title, string detail)
    {
        http.Response.StatusCode = status;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}
