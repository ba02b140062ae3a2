using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using ChatGrains.Api.Auth;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;

// ASP0029: .NET 10 marks the validation types a binder uses directly ([ValidatableType],
// ValidationOptions.TryGetValidatableTypeInfo, ValidateContext) as for evaluation. They are what
// AddValidation's own endpoint filter calls; used here so that the binder keeps the contract's
// order of refusals (see JsonBody). Revisit when they are final.
#pragma warning disable ASP0029

namespace ChatGrains.Api.Apis;

/// <summary>
/// Binds request bodies (the records in RequestBodies.cs): reads them as JSON whatever
/// their Content-Type says, with a size limit, deserializes them with the source-generated
/// <see cref="RequestBodyJson"/> and validates them with .NET's validation, turning every
/// malformed input into a 400 (or 413) problem before anything changes.
/// </summary>
/// <remarks>
/// Why not the framework's own body binding ([FromBody]): it answers 415 to a body sent as
/// text/plain, form or without a Content-Type (the contract takes them: curl -d sends form),
/// it binds before any code of the route runs (so a non-member's bad body could not be
/// answered 404 first), and its failures carry no word of what was wrong.
/// </remarks>
public static class JsonBody
{
    /// <summary>
    /// The body as <typeparamref name="T"/>, valid; an <paramref name="optional"/> body may be
    /// empty (then it is a <typeparamref name="T"/> with every field left out). On a route marked
    /// <see cref="MemberFirstMetadata"/>, a caller who is not a member of the conversation hears
    /// its 404 instead of any refusal of the body.
    /// </summary>
    public static async ValueTask<T?> BindAsync<T>(HttpContext http, long maxBytes, bool optional = false) where T : class, new()
    {
        try
        {
            var bytes = await ReadAsync(http.Request, maxBytes, optional);
            var body = bytes.IsEmpty ? new T() : Deserialize<T>(bytes);
            await ValidateAsync(http, body);
            return body;
        }
        catch (ApiProblem) when (http.GetEndpoint()?.Metadata.GetMetadata<MemberFirstMetadata>() is not null)
        {
            await MemberFirstMetadata.CheckAsync(http);
            throw;
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpRequest request, long maxBytes, bool optional)
    {
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = maxBytes;
        if (request.ContentLength > maxBytes) throw TooLarge();
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
            if (buffer.Length > maxBytes) throw TooLarge();
            if (buffer.Length == 0)
                return optional ? ReadOnlyMemory<byte>.Empty : throw Malformed("The request needs a JSON body.");
            // The reader checks the UTF-8 of a string only when it decodes it; checking the whole
            // body first keeps every invalid byte (even in an ignored field) a 400.
            var bytes = buffer.ToArray();
            return Utf8.IsValid(bytes) ? bytes : throw Malformed("The body is not valid UTF-8.");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }
    }

    private static T Deserialize<T>(ReadOnlyMemory<byte> bytes) where T : class
    {
        var info = (JsonTypeInfo<T>)RequestBodyJson.Default.GetTypeInfo(typeof(T))!;
        try
        {
            return JsonSerializer.Deserialize(bytes.Span, info) ?? throw Malformed("The body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw Malformed($"The body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // A \u escape may name half of a surrogate pair, which is no text at all.
            throw Malformed("The body holds a string that is not valid Unicode text.");
        }
    }

    /// <summary>The record's DataAnnotations, checked by the validation info the source generator wrote for it.</summary>
    private static async Task ValidateAsync<T>(HttpContext http, T body) where T : class
    {
        var options = http.RequestServices.GetRequiredService<IOptions<ValidationOptions>>().Value;
        if (!options.TryGetValidatableTypeInfo(typeof(T), out var info))
            throw new InvalidOperationException($"{typeof(T).Name} has no validation info: is it marked [ValidatableType] and AddValidation called?");
        var context = new ValidateContext
        {
            ValidationOptions = options,
            ValidationContext = new System.ComponentModel.DataAnnotations.ValidationContext(body, http.RequestServices, items: null),
        };
        await info.ValidateAsync(body, context, http.RequestAborted);
        if (context.ValidationErrors is { Count: > 0 } errors)
            throw Malformed(string.Join(" ", errors.SelectMany(e => e.Value).Distinct()));
    }

    /// <summary>A string value that must be text: a \u escape may name half of a surrogate pair.</summary>
    public static void CheckText(JsonElement value, string name)
    {
        try
        {
            _ = value.GetString();
        }
        catch (InvalidOperationException)
        {
            throw Malformed($"'{name}' is not valid Unicode text.");
        }
    }

    public static ApiProblem Malformed(string detail) => new(StatusCodes.Status400BadRequest, "Malformed request", detail);

    private static ApiProblem TooLarge() => new(StatusCodes.Status413PayloadTooLarge, "Request too large", "The request body is larger than this endpoint accepts.");
}

/// <summary>
/// Marks a conversation's route whose refusals come in the contract's order: 404 to anyone who
/// is not a member, before even a bad body (asked of the grain only when the body is refused).
/// </summary>
public sealed class MemberFirstMetadata
{
    public static readonly MemberFirstMetadata Instance = new();

    public static async Task CheckAsync(HttpContext http)
    {
        var id = (string)http.GetRouteValue("id")!;
        var grains = http.RequestServices.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<IConversationGrain>(id).GetHeadAsync(http.User.ToCaller().UserId);
    }
}

public static class MemberFirstExtensions
{
    public static RouteHandlerBuilder MemberFirst(this RouteHandlerBuilder route) => route.WithMetadata(MemberFirstMetadata.Instance);
}
