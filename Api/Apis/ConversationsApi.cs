using ChatGrains.Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

/// <summary>Conversations, their snapshots, invites and members.</summary>
public static class ConversationsApi
{
    public const int MaxTitleLength = 200;

    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations").RequireAuthorization();
        api.MapPost("/", Create);
        api.MapGet("/", List);
        api.MapGet("/{id}", Get);
        api.MapPost("/{id}/invites", Invite);
        api.MapPost("/{id}/members", Join);
        return app;
    }

    private static async Task<Created<ConversationSnapshot>> Create(HttpContext http, IGrainFactory grains)
    {
        var body = await JsonBody.ReadAsync(http.Request, 8192, optional: true);
        var title = JsonBody.OptionalString(body, "title");
        if (title?.Length > MaxTitleLength)
            throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid title", $"'title' must be at most {MaxTitleLength} characters.");
        var id = Guid.NewGuid().ToString("N");
        var snapshot = await grains.GetGrain<IConversationGrain>(id).CreateAsync(http.User.ToCaller(), title);
        return TypedResults.Created($"/api/conversations/{id}", snapshot);
    }

    /// <summary>The caller's list, from their user grain: with their role, unread count and read position.</summary>
    private static async Task<Ok<IReadOnlyList<ConversationListItem>>> List(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IUserGrain>(http.User.ToCaller().UserId).ListAsync());

    private static async Task<Ok<ConversationSnapshot>> Get(string id, HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IConversationGrain>(id).GetSnapshotAsync(http.User.ToCaller().UserId));

    private static async Task<Created<InviteCreated>> Invite(string id, HttpContext http, IGrainFactory grains)
    {
        var token = await grains.GetGrain<IConversationGrain>(id).CreateInviteAsync(http.User.ToCaller().UserId);
        return TypedResults.Created((string?)null, new InviteCreated(token));
    }

    private static async Task<Ok<ConversationSnapshot>> Join(string id, HttpContext http, IGrainFactory grains)
    {
        var body = await JsonBody.ReadAsync(http.Request, 4096);
        var token = JsonBody.RequiredString(body, "inviteToken");
        var caller = http.User.ToCaller();
        var grain = grains.GetGrain<IConversationGrain>(id);
        await grain.JoinAsync(caller, token);
        return TypedResults.Ok(await grain.GetSnapshotAsync(caller.UserId));
    }

    public sealed record InviteCreated(string InviteToken);
}
