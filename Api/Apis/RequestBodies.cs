using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;

// ASP0029: .NET 10 marks the validation types a binder uses directly ([ValidatableType],
// ValidationOptions.TryGetValidatableTypeInfo, ValidateContext) as for evaluation. They are what
// AddValidation's own endpoint filter calls; used here so that the binder keeps the contract's
// order of refusals (see JsonBody). Revisit when they are final.
#pragma warning disable ASP0029

namespace ChatGrains.Api.Apis;

// The request bodies of the API, as typed records checked by .NET's validation (DataAnnotations,
// with the validation info the AddValidation source generator writes for [ValidatableType]).
// Each binds itself (BindAsync) through JsonBody: whatever the Content-Type says, within the
// route's size limit, with every malformed input a 400 problem, and on a conversation's route
// a non-member's bad body answered 404 first (see JsonBody.BindAsync). The error texts are
// the ones the hand parsing gave.

/// <summary><c>POST /api/auth/guest</c>: the name to show, trimmed, 1 to 64 characters.</summary>
[ValidatableType]
public sealed record GuestSignInBody
{
    [Required(ErrorMessage = "'name' is required and must be a non-blank string.")]
    [StringLength(AuthApi.MaxNameLength, ErrorMessage = "'name' must be at most 64 characters.")]
    public string Name { get; init => field = value?.Trim()!; } = null!;

    /// <summary>A deployment without guest sign-in answers 404 before reading anything.</summary>
    public static ValueTask<GuestSignInBody?> BindAsync(HttpContext http) =>
        http.RequestServices.GetRequiredService<IOptions<Auth.AuthOptions>>().Value.GuestSignIn
            ? JsonBody.BindAsync<GuestSignInBody>(http, 4096)
            : throw new ApiProblem(StatusCodes.Status404NotFound, "Guest sign-in is off", "This deployment does not issue guest tokens.");
}

/// <summary><c>POST /api/conversations</c>: an optional title (no body, <c>{}</c> and <c>null</c> alike mean none).</summary>
[ValidatableType]
public sealed record NewConversationBody
{
    [StringLength(ConversationsApi.MaxTitleLength, ErrorMessage = "'title' must be at most 200 characters.")]
    public string? Title { get; init; }

    public static ValueTask<NewConversationBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<NewConversationBody>(http, 8192, optional: true);
}

/// <summary><c>PATCH /api/conversations/{id}</c>: the new title, trimmed, 1 to 200 characters.</summary>
[ValidatableType]
public sealed record RenameBody
{
    [Required(ErrorMessage = "'title' is required and must be a non-blank string.")]
    [StringLength(ConversationsApi.MaxTitleLength, ErrorMessage = "'title' must be 1 to 200 characters.")]
    public string Title { get; init => field = value?.Trim()!; } = null!;

    public static ValueTask<RenameBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<RenameBody>(http, 8192);
}

/// <summary>
/// <c>POST /api/conversations/{id}/invites</c>: optional terms; a field that is <c>null</c> is
/// the same as one left out (no expiry, no use limit).
/// </summary>
[ValidatableType]
public sealed record InviteBody
{
    [Range(ConversationsApi.MinInviteSeconds, ConversationsApi.MaxInviteSeconds, ErrorMessage = "'expiresInSeconds' must be an integer from 60 to 2592000.")]
    public long? ExpiresInSeconds { get; init; }

    [Range(1, int.MaxValue, ErrorMessage = "'maxUses' must be an integer from 1 to 2147483647.")]
    public int? MaxUses { get; init; }

    public InviteTerms ToTerms() => new(ExpiresInSeconds is { } s ? TimeSpan.FromSeconds(s) : null, MaxUses);

    public static ValueTask<InviteBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<InviteBody>(http, 4096, optional: true);
}

/// <summary><c>POST /api/conversations/{id}/members</c>: the invite token.</summary>
[ValidatableType]
public sealed record JoinBody
{
    [Required(ErrorMessage = "'inviteToken' is required and must be a non-blank string.")]
    public string InviteToken { get; init; } = null!;

    public static ValueTask<JoinBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<JoinBody>(http, 4096);
}

/// <summary><c>POST /api/conversations/{id}/head</c> and <c>/fork</c>: the assistant message.</summary>
[ValidatableType]
public sealed record MessageRefBody
{
    [Required(ErrorMessage = "'messageId' is required and must be a non-blank string.")]
    public string MessageId { get; init; } = null!;

    public static ValueTask<MessageRefBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<MessageRefBody>(http, 4096);
}

/// <summary><c>POST /api/conversations/{id}/read</c>: the event the caller has read up to.</summary>
[ValidatableType]
public sealed record ReadBody
{
    [Required(ErrorMessage = "'lastEventId' is required and must be a non-negative integer event id.")]
    [Range(0, long.MaxValue, ErrorMessage = "'lastEventId' is required and must be a non-negative integer event id.")]
    public long? LastEventId { get; init; }

    public static ValueTask<ReadBody?> BindAsync(HttpContext http) => JsonBody.BindAsync<ReadBody>(http, 4096);
}

/// <summary>
/// <c>POST /api/conversations/{id}/messages</c>: the prompt, and where it goes: <c>parentId</c>
/// left out is the head, <c>null</c> a new first prompt, a string the assistant message it
/// follows. The size of <c>content</c> (a 413, configurable) is checked by the handler.
/// </summary>
[ValidatableType]
public sealed record PromptBody
{
    [Required(ErrorMessage = "'content' is required and must be a non-blank string.")]
    public string Content { get; init; } = null!;

    /// <summary>Kept as JSON: only it tells a left-out <c>parentId</c> from a <c>null</c> one.</summary>
    [JsonPropertyName("parentId")]
    public JsonElement ParentId { get; init; }

    /// <summary>The parent the prompt names (<see cref="ParentId"/> checked by <see cref="BindAsync"/>).</summary>
    public PromptParent? Parent() => ParentId.ValueKind switch
    {
        JsonValueKind.Undefined => null,
        JsonValueKind.Null => PromptParent.Root,
        _ => new PromptParent(ParentId.GetString()),
    };

    public static async ValueTask<PromptBody?> BindAsync(HttpContext http)
    {
        var limits = http.RequestServices.GetRequiredService<IOptions<MessageLimits>>().Value;
        var body = await JsonBody.BindAsync<PromptBody>(http, limits.MaxContentBytes * 6L + 1024);
        if (body!.ParentId.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.String))
            throw JsonBody.Malformed("'parentId' must be a message id or null.");
        if (body.ParentId.ValueKind == JsonValueKind.String) JsonBody.CheckText(body.ParentId, "parentId");
        return body;
    }
}

/// <summary>The request bodies' JSON: the contract's camelCase, strictly typed (no numbers in strings).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.Strict, PropertyNameCaseInsensitive = false, MaxDepth = 16)]
[JsonSerializable(typeof(GuestSignInBody))]
[JsonSerializable(typeof(NewConversationBody))]
[JsonSerializable(typeof(RenameBody))]
[JsonSerializable(typeof(InviteBody))]
[JsonSerializable(typeof(JoinBody))]
[JsonSerializable(typeof(MessageRefBody))]
[JsonSerializable(typeof(ReadBody))]
[JsonSerializable(typeof(PromptBody))]
internal sealed partial class RequestBodyJson : JsonSerializerContext;
