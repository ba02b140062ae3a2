using ChatGrains.Api.Auth;
using ChatGrains.Api.OpenApi;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

/// <summary>
/// Conversations, their snapshots, invites and members. Refusals come in the contract's order:
/// 404 to anyone who is not a member (before even a bad body: <see cref="MemberFirstMetadata"/>),
/// then 400, then 403, then 409.
/// </summary>
public static class ConversationsApi
{
    public const int MaxTitleLength = 200;
    public const long MinInviteSeconds = 60;
    public const long MaxInviteSeconds = 30 * 24 * 3600;

    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations").RequireAuthorization().ConversationRoute().WithTags("Conversations");
        api.MapPost("/", Create).TakesBody<NewConversationBody>(optional: true).Refuses(400, 413);
        api.MapGet("/", List);
        api.MapGet("/{id}", Get).Paged(before: false).Refuses(400, 404);
        api.MapPatch("/{id}", Rename).MemberFirst().TakesBody<RenameBody>().Refuses(400, 404, 413);
        api.MapDelete("/{id}", Delete).Refuses(403, 404);
        api.MapPost("/{id}/invites", Invite).MemberFirst().TakesBody<InviteBody>(optional: true).Refuses(400, 404, 413);
        api.MapGet("/{id}/invites", ListInvites).Refuses(404);
        api.MapDelete("/{id}/invites/{inviteToken}", RevokeInvite).Refuses(403, 404);
        api.MapPost("/{id}/members", Join).TakesBody<JoinBody>().Refuses(400, 404, 413);
        api.MapDelete("/{id}/members/{userId}", Remove).Refuses(403, 404, 409);
        api.MapPost("/{id}/head", SetHead).MemberFirst().TakesBody<MessageRefBody>().Refuses(400, 404, 413);
        api.MapPost("/{id}/fork", Fork).MemberFirst().TakesBody<MessageRefBody>().Refuses(400, 404, 409, 413);
        return app;
    }

    private static async Task<Created<ConversationSnapshot>> Create(NewConversationBody body, HttpContext http, IGrainFactory grains)
    {
        var id = Guid.NewGuid().ToString("N");
        var snapshot = await grains.GetGrain<IConversationGrain>(id).CreateAsync(http.User.ToCaller(), body.Title);
        return TypedResults.Created($"/api/conversations/{id}", snapshot);
    }

    /// <summary>The caller's list, from their user grain: with their role, unread count and read position.</summary>
    private static async Task<Ok<IReadOnlyList<ConversationListItem>>> List(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IUserGrain>(http.User.ToCaller().UserId).ListAsync());

    /// <summary>The snapshot with the latest <c>?limit=</c> messages (see <see cref="PageQuery"/>).</summary>
    private static async Task<Ok<ConversationSnapshot>> Get(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var limit = await PageQuery.LimitAsync(http.Request, grain, userId);
        return TypedResults.Ok(await grain.GetSnapshotAsync(userId, limit));
    }

    private static async Task<Ok<ConversationSnapshot>> Rename(string id, RenameBody body, HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IConversationGrain>(id).RenameAsync(http.User.ToCaller().UserId, body.Title));

    private static async Task<NoContent> Delete(string id, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IConversationGrain>(id).DeleteAsync(http.User.ToCaller().UserId);
        return TypedResults.NoContent();
    }

    private static async Task<Created<InviteCreated>> Invite(string id, InviteBody body, HttpContext http, IGrainFactory grains)
    {
        var invite = await grains.GetGrain<IConversationGrain>(id).InviteAsync(http.User.ToCaller().UserId, body.ToTerms());
        return TypedResults.Created((string?)null, new InviteCreated(invite.InviteToken, invite.ExpiresAt, invite.MaxUses));
    }

    private static async Task<Ok<IReadOnlyList<InviteInfo>>> ListInvites(string id, HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IConversationGrain>(id).ListInvitesAsync(http.User.ToCaller().UserId));

    private static async Task<NoContent> RevokeInvite(string id, string inviteToken, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IConversationGrain>(id).RevokeInviteAsync(http.User.ToCaller().UserId, inviteToken);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> Remove(string id, string userId, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IConversationGrain>(id).RemoveMemberAsync(http.User.ToCaller().UserId, userId);
        return TypedResults.NoContent();
    }

    /// <summary>Moves the shared head to an assistant message; the snapshot.</summary>
    private static async Task<Ok<ConversationSnapshot>> SetHead(string id, MessageRefBody body, HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IConversationGrain>(id).SetHeadAsync(http.User.ToCaller().UserId, body.MessageId));

    /// <summary>
    /// Copies the path up to a final assistant message into a new conversation owned by the caller
    /// alone; its snapshot. The source checks the message (and membership) before anything is made.
    /// </summary>
    private static async Task<Created<ConversationSnapshot>> Fork(string id, MessageRefBody body, HttpContext http, IGrainFactory grains)
    {
        var caller = http.User.ToCaller();
        var path = await grains.GetGrain<IConversationGrain>(id).GetForkSourceAsync(caller.UserId, body.MessageId);
        var forkId = Guid.NewGuid().ToString("N");
        var snapshot = await grains.GetGrain<IConversationGrain>(forkId).CreateForkAsync(caller, path);
        return TypedResults.Created($"/api/conversations/{forkId}", snapshot);
    }

    private static async Task<Ok<ConversationSnapshot>> Join(string id, JoinBody body, HttpContext http, IGrainFactory grains)
    {
        var caller = http.User.ToCaller();
        var grain = grains.GetGrain<IConversationGrain>(id);
        await grain.JoinAsync(caller, body.InviteToken);
        return TypedResults.Ok(await grain.GetSnapshotAsync(caller.UserId));
    }

    public sealed record InviteCreated(
        string InviteToken,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? ExpiresAt,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? MaxUses);
}
