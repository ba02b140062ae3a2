namespace ChatGrains.Api;

public static class SecurityHeaders
{
    /// <summary>
    /// What the page may load and run: its own bundle only. No inline script or style (the page
    /// has none), so a reply that slipped past the Markdown sanitizer still could not run
    /// script; connections only to this origin; images from here or data: URLs (a model's
    /// Markdown image cannot beacon elsewhere); never framed.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// The API reference at <c>/docs</c> (Scalar): its own script from this host, the inline
    /// configuration script allowed only by the nonce Scalar puts on it for this response, and
    /// inline styles (Scalar's components set them at run time). Nothing loads from elsewhere.
    /// Only the reference's page gets this: it shows no conversation content.
    /// </summary>
    public static string ReferencePolicy(string nonce) =>
        $"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Adds the headers to every response, the page's and the API's, errors included: they are
    /// set as the response starts, after anything (the exception handler) that clears headers.
    /// </summary>
    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            http.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = http.Items[Scalar.AspNetCore.ScalarOptions.NonceHttpContextItemKey] is string nonce
                    ? ReferencePolicy(nonce)
                    : ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                return Task.CompletedTask;
            }, http);
            return next(http);
        });
        return app;
    }
}
