using System.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api;

/// <summary>
/// The service's only <see cref="IProblemDetailsWriter"/>: every error — from the exception
/// handler, the status-code pages, the JWT challenge and the rate limiter alike — is written as
/// <c>application/problem+json</c> whatever the request's <c>Accept</c> says. ASP.NET Core's own
/// writer declines unless <c>Accept</c> names JSON, and every SSE client sends
/// <c>Accept: text/event-stream</c>: its errors would then be empty bodies, or 500s where the
/// writing was required.
/// </summary>
public sealed class ProblemJsonWriter(IOptions<JsonOptions> json, IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        problem.Extensions["traceId"] = Activity.Current?.Id ?? http.TraceIdentifier;
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, json.Value.SerializerOptions.GetTypeInfo(problem.GetType()), "application/problem+json"));
    }
}

public static class ProblemJsonHosting
{
    /// <summary>Problem details written by <see cref="ProblemJsonWriter"/> alone, and exceptions mapped by <see cref="ProblemMapping"/>.</summary>
    public static IServiceCollection AddProblemJson(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.RemoveAll<IProblemDetailsWriter>();
        services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        return services.AddExceptionHandler<ProblemMapping>();
    }
}
