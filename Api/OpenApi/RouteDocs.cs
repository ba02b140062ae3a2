using Microsoft.OpenApi;

namespace ChatGrains.Api.OpenApi;

/// <summary>What a route's documentation says beyond its signature: the problems it answers, and its event stream.</summary>
public static class RouteDocs
{
    /// <summary>
    /// The refusals (application/problem+json) the route answers, besides those every route of its
    /// kind does (see <see cref="ConversationRoute"/>). Refusals are exceptions mapped in one
    /// place (ProblemMapping), so they cannot show in the handler's return type; the
    /// ApiDescriptionTests drive each documented status over a socket.
    /// </summary>
    public static TBuilder Refuses<TBuilder>(this TBuilder route, params int[] statuses) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statuses)
            route.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        return route;
    }

    /// <summary>A route that needs an identity and asks the cluster: 401 without one, 503 while the cluster or its store is away.</summary>
    public static TBuilder ConversationRoute<TBuilder>(this TBuilder route) where TBuilder : IEndpointConventionBuilder =>
        route.Refuses(StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable);

    /// <summary>
    /// Documents the route's JSON body as <typeparamref name="T"/> (the record its handler binds).
    /// Not <c>Accepts&lt;T&gt;()</c>: routing turns that metadata into a Content-Type match,
    /// and the contract takes a JSON body under any Content-Type (curl -d sends a form's).
    /// </summary>
    public static RouteHandlerBuilder TakesBody<T>(this RouteHandlerBuilder route, bool optional = false) =>
        route.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = !optional,
                Description = optional ? "Optional: no body is the same as `{}`." : null,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = await NamedSchemaAsync<T>(context, cancellationToken) },
                },
            };
        });

    /// <summary>The record's schema, kept once under components/schemas by its type's name.</summary>
    private static async Task<IOpenApiSchema> NamedSchemaAsync<T>(Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var document = context.Document!;
        var name = typeof(T).Name;
        if (document.Components?.Schemas?.ContainsKey(name) != true)
            document.AddComponent(name, await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken));
        return new OpenApiSchemaReference(name, document);
    }

    /// <summary>
    /// A page of messages: <c>limit</c> (1 to <see cref="Paging.MaxLimit"/>, default
    /// <see cref="Paging.DefaultLimit"/>) and, for pages of the history, <c>before</c>.
    /// </summary>
    public static RouteHandlerBuilder Paged(this RouteHandlerBuilder route, bool before) => route.AddOpenApiOperationTransformer((operation, _, _) =>
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "limit", In = ParameterLocation.Query,
            Description = $"How many of the latest messages (all branches, in event order): 1 to {Paging.MaxLimit}, default {Paging.DefaultLimit}; anything else is a 400.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = Paging.MaxLimit.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        });
        if (before)
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "before", In = ParameterLocation.Query,
                Description = "The page ends just before this message (an unknown one is a 404); without it, the latest messages.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        return Task.CompletedTask;
    });

    /// <summary>The resume point a stream starts after: the <c>Last-Event-ID</c> header, else the <c>lastEventId</c> query parameter.</summary>
    public static RouteHandlerBuilder ResumesFrom(this RouteHandlerBuilder route) => route.AddOpenApiOperationTransformer((operation, _, _) =>
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "Last-Event-ID", In = ParameterLocation.Header,
            Description = "Resume after this event id (a non-negative integer; anything else is a 400). Wins over the query parameter.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0" },
        });
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "lastEventId", In = ParameterLocation.Query,
            Description = "The same, for clients that cannot set headers (a native EventSource).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0" },
        });
        return Task.CompletedTask;
    });

    /// <summary>
    /// A prompt-like POST: <c>Idempotency-Key</c> makes a retry safe, and the answer is the
    /// exchange's event stream unless <c>Accept</c> names only <c>application/json</c> (then 202).
    /// </summary>
    public static RouteHandlerBuilder StartsAnExchange(this RouteHandlerBuilder route) => route.ResumesFrom().AddOpenApiOperationTransformer((operation, _, _) =>
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "Idempotency-Key", In = ParameterLocation.Header,
            Description = "1 to 128 characters. A repeat with the same key and request answers the same exchange and posts nothing; with another request, 422.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = Apis.MessagesApi.MaxIdempotencyKeyLength },
        });
        operation.Description = "Answers the exchange as `text/event-stream` (200), or `202` with its ids when `Accept` names `application/json` and not `text/event-stream`.";
        return Task.CompletedTask;
    });

    /// <summary>Answers <c>200 text/event-stream</c> carrying <paramref name="events"/>.</summary>
    public static RouteHandlerBuilder ProducesEventStream(this RouteHandlerBuilder route, string description, IReadOnlyList<StreamEventType> events) =>
        route.WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(void), [EventStreamSchemas.ContentType]), new EventStreamMetadata(description, events));
}
