using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The people routes, as a client calls them: rename, delete, leave or remove, and invites.</summary>
public static class PeopleRequests
{
    public static Task<HttpResponseMessage> RenameAsync(this ApiUser user, string conversationId, string title) =>
        user.Http.PatchAsJsonAsync($"/api/conversations/{conversationId}", new { title });

    public static Task<HttpResponseMessage> DeleteConversationAsync(this ApiUser user, string conversationId) =>
        user.Http.DeleteAsync($"/api/conversations/{conversationId}");

    /// <summary>Removes a member, or leaves when <paramref name="userId"/> is the user's own.</summary>
    public static Task<HttpResponseMessage> RemoveAsync(this ApiUser user, string conversationId, string userId) =>
        user.Http.DeleteAsync($"/api/conversations/{conversationId}/members/{userId}");

    /// <summary>Creates an invite with the given terms (no body when null); the 201's body.</summary>
    public static async Task<JsonElement> InviteAsync(this ApiUser user, string conversationId, object? terms = null)
    {
        var response = terms is null
            ? await user.Http.PostAsync($"/api/conversations/{conversationId}/invites", null)
            : await user.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/invites", terms);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static async Task<JsonElement[]> InvitesAsync(this ApiUser user, string conversationId) =>
        (await user.Http.GetFromJsonAsync<JsonElement[]>($"/api/conversations/{conversationId}/invites"))!;

    public static Task<HttpResponseMessage> RevokeInviteAsync(this ApiUser user, string conversationId, string token) =>
        user.Http.DeleteAsync($"/api/conversations/{conversationId}/invites/{Uri.EscapeDataString(token)}");

    public static Task<HttpResponseMessage> JoinAsync(this ApiUser user, string conversationId, string token) =>
        user.Http.PostAsJsonAsync($"/api/conversations/{conversationId}/members", new { inviteToken = token });

    public static string Token(this JsonElement invite) => invite.GetProperty("inviteToken").GetString()!;
}
