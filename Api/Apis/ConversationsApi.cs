using ChatGrains.Api.Auth;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChatGrains.Api.Apis;

/// <summary>
/// Conversations, their snapshots, invites and members. Refusals come in the contract's order:
/// 404 to anyone who is not a member (before even a bad body), then 400, then 403, then 409.
/// </summary>
public static class ConversationsApi
{
    public const int MaxTitleLength = 200;
    public const long MinInviteSeconds = 60;
    public const long MaxInviteSeconds = 30 * 24 * 3600;

    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/conversations").RequireAuthorization();
        api.MapPost("/", Create);
        api.MapGet("/", List);
        api.MapGet("/{id}", Get);
        api.MapPatch("/{id}", Rename);
        api.MapDelete("/{id}", Delete);
        api.MapPost("/{id}/invites", Invite);
        api.MapGet("/{id}/invites", ListInvites);
        api.MapDelete("/{id}/invites/{inviteToken}", RevokeInvite);
        api.MapPost("/{id}/members", Join);
        api.MapDelete("/{id}/members/{userId}", Remove);
        api.MapPost("/{id}/head", SetHead);
        api.MapPost("/{id}/fork", Fork);
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

    /// <summary>The snapshot with the latest <c>?limit=</c> messages (see <see cref="PageQuery"/>).</summary>
    private static async Task<Ok<ConversationSnapshot>> Get(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var limit = await PageQuery.LimitAsync(http.Request, grain, userId);
        return TypedResults.Ok(await grain.GetSnapshotAsync(userId, limit));
    }

    private static async Task<Ok<ConversationSnapshot>> Rename(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var title = await MemberFirstAsync(grain, userId, async () =>
        {
            var body = await JsonBody.ReadAsync(http.Request, 8192);
            var title = JsonBody.RequiredString(body, "title").Trim();
            return title.Length <= MaxTitleLength ? title
                : throw new ApiProblem(StatusCodes.Status400BadRequest, "Invalid title", $"'title' must be 1 to {MaxTitleLength} characters.");
        });
        return TypedResults.Ok(await grain.RenameAsync(userId, title));
    }

    private static async Task<NoContent> Delete(string id, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IConversationGrain>(id).DeleteAsync(http.User.ToCaller().UserId);
        return TypedResults.NoContent();
    }

    private static async Task<Created<InviteCreated>> Invite(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var terms = await MemberFirstAsync(grain, userId, async () =>
        {
            var body = await JsonBody.ReadAsync(http.Request, 4096, optional: true);
            var seconds = JsonBody.OptionalInteger(body, "expiresInSeconds", MinInviteSeconds, MaxInviteSeconds);
            var maxUses = JsonBody.OptionalInteger(body, "maxUses", 1, int.MaxValue);
            return new InviteTerms(seconds is { } s ? TimeSpan.FromSeconds(s) : null, (int?)maxUses);
        });
        var invite = await grain.InviteAsync(userId, terms);
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

    /// <summary>
    /// Reads and checks a request; if it is refused, a caller who is not a member hears 404
    /// instead (asked of the grain only then), so a bad body reveals nothing either.
    /// </summary>
    private static async Task<T> MemberFirstAsync<T>(IConversationGrain grain, string userId, Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (ApiProblem)
        {
            await grain.GetHeadAsync(userId);
            throw;
        }
    }

    /// <summary>Moves the shared head to an assistant message; the snapshot.</summary>
    private static async Task<Ok<ConversationSnapshot>> SetHead(string id, HttpContext http, IGrainFactory grains)
    {
        var (grain, userId) = (grains.GetGrain<IConversationGrain>(id), http.User.ToCaller().UserId);
        var messageId = await MemberFirstAsync(grain, userId, () => MessageIdAsync(http.Request));
        return TypedResults.Ok(await grain.SetHeadAsync(userId, messageId));
    }

    /// <summary>
    /// Copies the path up to a final assistant message into a new conversation owned by the caller
    /// alone; its snapshot. The source checks the message (and membership) before anything is made.
    /// </summary>
    private static async Task<Created<ConversationSnapshot>> Fork(string id, HttpContext http, IGrainFactory grains)
    {
        var caller = http.User.ToCaller();
        var source = grains.GetGrain<IConversationGrain>(id);
        var messageId = await MemberFirstAsync(source, caller.UserId, () => MessageIdAsync(http.Request));
        var path = await source.GetForkSourceAsync(caller.UserId, messageId);
        var forkId = Guid.NewGuid().ToString("N");
        var snapshot = await grains.GetGrain<IConversationGrain>(forkId).CreateForkAsync(caller, path);
        return TypedResults.Created($"/api/conversations/{forkId}", snapshot);
    }

    private static async Task<string> MessageIdAsync(HttpRequest request) =>
        JsonBody.RequiredString(await JsonBody.ReadAsync(request, 4096), "messageId");

    private static async Task<Ok<ConversationSnapshot>> Join(string id, HttpContext http, IGrainFactory grains)
    {
        var body = await JsonBody.ReadAsync(http.Request, 4096);
        var token = JsonBody.RequiredString(body, "inviteToken");
        var caller = http.User.ToCaller();
        var grain = grains.GetGrain<IConversationGrain>(id);
        await grain.JoinAsync(caller, token);
        return TypedResults.Ok(await grain.GetSnapshotAsync(caller.UserId));
    }

    public sealed record InviteCreated(
        string InviteToken,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? ExpiresAt,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? MaxUses);
}
