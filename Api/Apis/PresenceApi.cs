using ChatGrains.Api.Auth;
using ChatGrains.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

/// <summary>Saying "I am typing" to a conversation's watchers (presence itself comes from the watch streams).</summary>
public static class PresenceApi
{
    public static IEndpointRouteBuilder MapPresenceApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/conversations/{id}/typing", Typing).RequireAuthorization().RequireRateLimiting(RateLimits.Typing)
            .WithTags("Presence").ConversationRoute().Refuses(404, 429);
        return app;
    }

    /// <summary>
    /// Members only (anyone else gets the conversation's 404). The presence grain forwards the
    /// first of each user's 2 s window to every watcher; the rest are answered 204 and dropped.
    /// </summary>
    private static async Task<NoContent> Typing(string id, HttpContext http, IGrainFactory grains)
    {
        var caller = http.User.ToCaller();
        await grains.GetGrain<IConversationGrain>(id).GetHeadAsync(caller.UserId);
        await grains.GetGrain<IPresenceGrain>(id).TypingAsync(caller);
        return TypedResults.NoContent();
    }
}
