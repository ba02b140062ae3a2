namespace ChatGrains.Api.EventStream;

public static class HeldOpenEndpoints
{
    /// <summary>
    /// For a route whose response stays open as long as its client watches: every endpoint
    /// filter in its way keeps its frame (and what it holds) for the life of the stream, once
    /// per watcher. Such a route takes no body, so it goes without the validation filter that
    /// AddValidation puts on every route.
    /// </summary>
    public static TBuilder HeldOpen<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.DisableValidation();
}
