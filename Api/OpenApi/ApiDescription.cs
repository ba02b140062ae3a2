using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace ChatGrains.Api.OpenApi;

/// <summary>
/// The API's description: an OpenAPI document at <c>/openapi/v1.json</c>, generated from the
/// routes (their typed results, request records and the refusals each declares), and Scalar's
/// interactive reference at <c>/docs</c>, its script served from the package (no CDN). Both are
/// anonymous and served in every mode: they describe a public API.
/// </summary>
public static class ApiDescription
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/v1.json";
    public const string ReferencePath = "/docs";

    public static IServiceCollection AddApiDescription(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, o =>
        {
            o.AddDocumentTransformer<DocumentInfo>();
            o.AddOperationTransformer<BearerSecurity>();
            o.AddOperationTransformer<EventStreamSchemas>();
            // The one JsonElement of a request (PromptBody.ParentId) is kept as JSON only to tell
            // a left-out field from a null one; on the wire it is a message id or null.
            o.AddSchemaTransformer((schema, context, _) =>
            {
                if (context.JsonTypeInfo.Type == typeof(System.Text.Json.JsonElement))
                {
                    schema.Type = JsonSchemaType.String | JsonSchemaType.Null;
                    schema.Description = "The assistant message the prompt follows; `null` starts a new first prompt; left out, the head.";
                }
                return Task.CompletedTask;
            });
            o.AddSchemaTransformer<RequestBodyFields>();
        });

    public static WebApplication MapApiDescription(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference(ReferencePath, o => o
                .WithTitle("ChatGrains API")
                .WithOpenApiRoutePattern("/openapi/{documentName}.json")
                .AddDocument(DocumentName)
                // Nothing fetched from elsewhere: no web fonts, no telemetry, no hosted agent.
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent()
                .DisableMcp()
                // A fresh nonce on its script tags for every page; SecurityHeaders puts it in the CSP.
                .WithNonce())
            .AllowAnonymous();
        return app;
    }
}

/// <summary>
/// The request records' fields as their binder reads them (JsonBody, RequestBodyJson): numbers
/// are JSON numbers only (the document otherwise follows the app's web defaults, which also
/// read numbers from strings), and a [Required] field may not be null.
/// </summary>
internal sealed class RequestBodyFields : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is not { } property || property.DeclaringType.Namespace != typeof(Apis.JsonBody).Namespace
            || !property.DeclaringType.Name.EndsWith("Body", StringComparison.Ordinal))
            return Task.CompletedTask;
        if (schema.Type is { } type && type.HasFlag(JsonSchemaType.Integer))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
        if (property.AttributeProvider?.IsDefined(typeof(RequiredAttribute), inherit: true) == true && schema.Type is { } required)
            schema.Type = required & ~JsonSchemaType.Null;
        return Task.CompletedTask;
    }
}
