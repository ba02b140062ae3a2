namespace ChatGrains.Api.Auth;

/// <summary>
/// Marks an endpoint whose GET requests may carry the bearer token as <c>?access_token=</c>:
/// the watch streams, because a native <c>EventSource</c> cannot set headers. Everywhere else a
/// token in the query is ignored, so it cannot leak into a link, a bookmark or a Referer.
/// </summary>
public sealed class AcceptsQueryToken
{
    public const string Parameter = "access_token";

    /// <summary>The token a request may authenticate with from its query, or null.</summary>
    public static string? From(HttpContext http) =>
        HttpMethods.IsGet(http.Request.Method)
        && http.GetEndpoint()?.Metadata.GetMetadata<AcceptsQueryToken>() is not null
        && string.IsNullOrEmpty(http.Request.Headers.Authorization)
        && http.Request.Query.TryGetValue(Parameter, out var token)
            ? token.ToString()
            : null;
}

public static class QueryTokenEndpointExtensions
{
    /// <summary>GET requests to this endpoint may send the token as <c>?access_token=</c> (for <c>EventSource</c>).</summary>
    public static TBuilder AcceptsQueryToken<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new AcceptsQueryToken());
}
