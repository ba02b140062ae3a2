using ChatGrains.Api.Auth;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.OpenApi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

/// <summary>
/// The caller's own state across conversations: their event stream (<c>/api/me/events</c>, the
/// list kept live), their read positions and today's token usage. All are served by the caller's
/// user grain.
/// </summary>
public static class MeApi
{
    public static IEndpointRouteBuilder MapMeApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/api/me/events", [HttpMethods.Get, HttpMethods.Post], Watch).RequireAuthorization().AcceptsQueryToken()
            .HeldOpen().WithTags("Me").ConversationRoute().ResumesFrom().Refuses(400)
            .ProducesEventStream("The caller's own events after the resume point, then live until the client leaves: applying them in order keeps the conversation list.", StreamEvents.User);
        app.MapPost("/api/conversations/{id}/read", Read).RequireAuthorization().WithTags("Me").ConversationRoute()
            .TakesBody<ReadBody>().Refuses(400, 404, 413);
        app.MapGet("/api/me/usage", Usage).RequireAuthorization().WithTags("Me").ConversationRoute();
        return app;
    }

    /// <summary>The tokens charged to the caller today (UTC), the daily budget (0: none) and when it resets.</summary>
    private static async Task<Ok<TokenUsage>> Usage(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IUserGrain>(http.User.ToCaller().UserId).GetUsageAsync());

    /// <summary>The caller's own resumable stream: conversation.added / updated / removed.</summary>
    private static async Task<EventStreamResult> Watch(HttpContext http, IGrainFactory grains)
    {
        var after = ResumePoint.From(http.Request);
        var userId = http.User.ToCaller().UserId;
        var head = await grains.GetGrain<IUserGrain>(userId).ReadEventsAsync(long.MaxValue, 0);
        return EventStreamResult.Watch(FeedSource.User(userId), after, head.LastEventId);
    }

    /// <summary>
    /// Moves the caller's read position forward (never back); a point past the conversation's
    /// latest event is taken as the latest.
    /// </summary>
    private static async Task<NoContent> Read(string id, ReadBody body, HttpContext http, IGrainFactory grains)
    {
        var lastEventId = body.LastEventId!.Value;
        var userId = http.User.ToCaller().UserId;
        // Checks membership (404 otherwise) and where the log stands.
        var head = await grains.GetGrain<IConversationGrain>(id).GetHeadAsync(userId);
        await grains.GetGrain<IUserGrain>(userId).MarkReadAsync(id, Math.Min(lastEventId, head.LastEventId));
        return TypedResults.NoContent();
    }
}
