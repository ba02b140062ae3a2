using Microsoft.Net.Http.Headers;

namespace ChatGrains.Api;

public static class ChatPage
{
    /// <summary>
    /// Serves the chat page, which the build bundles from <c>Api/Client</c> into <c>wwwroot</c>:
    /// <c>/</c> answers <c>index.html</c>. There is no fallback route (the page routes in the URL's
    /// hash), so an unknown <c>/api</c> path still answers a problem+json 404.
    /// </summary>
    public static WebApplication UseChatPage(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // The file names carry no version: browsers revalidate (a cheap 304) on every load,
            // so a new build is picked up at once.
            OnPrepareResponse = file => file.Context.Response.Headers[HeaderNames.CacheControl] = "no-cache",
        });
        return app;
    }
}
