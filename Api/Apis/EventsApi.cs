using ChatGrains.Api.Auth;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Feeds;
using ChatGrains.Api.OpenApi;

namespace ChatGrains.Api.Apis;

/// <summary>Watching a conversation: a resumable event stream (POST for fetch-event-source, GET for EventSource).</summary>
public static class EventsApi
{
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/api/conversations/{id}/events", [HttpMethods.Get, HttpMethods.Post], Watch).RequireAuthorization().AcceptsQueryToken()
            .HeldOpen().WithTags("Events").ConversationRoute().ResumesFrom().Refuses(400, 404)
            .ProducesEventStream("Every event after the resume point (`Last-Event-ID` header, else `lastEventId` query), then live events until the client leaves; without a resume point, live events only.", StreamEvents.Watch);
        return app;
    }

    private static async Task<EventStreamResult> Watch(string id, HttpContext http, IGrainFactory grains)
    {
        var after = ResumePoint.From(http.Request);
        // Checks membership (404 otherwise) and tells whether the resume point exists yet.
        // Replay is checked here, on open: a removed member's old Last-Event-ID is no key.
        var viewer = http.User.ToCaller().UserId;
        var head = await grains.GetGrain<IConversationGrain>(id).GetHeadAsync(viewer);
        return EventStreamResult.Watch(FeedSource.Conversation(id), after, head.LastEventId, viewer);
    }
}
