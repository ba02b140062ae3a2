using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ChatGrains.Api.OpenApi;

/// <summary>The document's title and description, and the bearer scheme guest tokens (and an identity provider's) use.</summary>
internal sealed class DocumentInfo : IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";
    public const string QueryTokenScheme = "accessTokenQuery";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "ChatGrains API",
            Version = "v1",
            Description =
                "Shared conversations with a model, streamed to every member. Sign in with `POST /api/auth/guest` " +
                "and send the token as `Authorization: Bearer <token>`. Every refusal is `application/problem+json`. " +
                "Prompts, regenerations and watches answer `text/event-stream`: each event's `data` is JSON whose " +
                "shape depends on its `event:` type (listed per route).",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "A guest token from `POST /api/auth/guest` (or a token of the deployment's identity provider).",
        };
        document.Components.SecuritySchemes[QueryTokenScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Query,
            Name = Auth.AcceptsQueryToken.Parameter,
            Description = "The same token in the query, for a native `EventSource` (which cannot set headers): watch streams' GET only.",
        };
        return Task.CompletedTask;
    }
}
