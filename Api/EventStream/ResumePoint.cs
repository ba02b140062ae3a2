using Microsoft.AspNetCore.Http;

namespace ChatGrains.Api.EventStream;

/// <summary>The one place a resume point is read: the <c>Last-Event-ID</c> header, else the <c>lastEventId</c> parameter.</summary>
public static class ResumePoint
{
    /// <summary>The id the client last saw, or null for none. Throws a 400 for a value that is not a non-negative integer.</summary>
    public static long? From(HttpRequest request)
    {
        var header = request.Headers["Last-Event-ID"].ToString();
        var raw = !string.IsNullOrWhiteSpace(header) ? header : request.Query["lastEventId"].ToString();
        if (string.IsNullOrWhiteSpace(raw)) return null;
        return long.TryParse(raw.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid resume point", "Last-Event-ID (or lastEventId) must be a non-negative integer event id.");
    }
}
