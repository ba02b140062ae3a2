using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ChatGrains.Api.OpenApi;

/// <summary>Routes that need an identity name the bearer scheme (and the watch streams' GET the query token too).</summary>
internal sealed class BearerSecurity : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any()) return Task.CompletedTask;
        var document = context.Document;
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(DocumentInfo.BearerScheme, document)] = [] });
        if (metadata.OfType<Auth.AcceptsQueryToken>().Any() && context.Description.HttpMethod == HttpMethods.Get)
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(DocumentInfo.QueryTokenScheme, document)] = [] });
        return Task.CompletedTask;
    }
}
