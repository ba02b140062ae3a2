using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;

namespace ChatGrains.Api.Apis;

/// <summary>
/// Reads request bodies as JSON, whatever their Content-Type says, with a size limit, and
/// turns every malformed input into a 400 (or 413) problem before anything changes.
/// </summary>
public static class JsonBody
{
    public static async Task<JsonElement> ReadAsync(HttpRequest request, long maxBytes, bool optional = false)
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
            {
                if (optional) return default;
                throw Malformed("The request needs a JSON body.");
            }
            // JsonDocument checks the UTF-8 of a string only when it is read, and then throws an
            // InvalidOperationException; checking the whole body first keeps that a 400.
            var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            if (!Utf8.IsValid(bytes.Span)) throw Malformed("The body is not valid UTF-8.");
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Malformed("The body must be a JSON object.");
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw Malformed($"The body is not valid JSON: {ex.Message}");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }
    }

    /// <summary>A string property that must be present and not blank.</summary>
    public static string RequiredString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            throw Malformed($"'{name}' is required and must be a string.");
        var text = Text(value, name);
        if (string.IsNullOrWhiteSpace(text)) throw Malformed($"'{name}' must not be empty.");
        return text;
    }

    /// <summary>A string property that may be absent or null.</summary>
    public static string? OptionalString(JsonElement body, string name)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == JsonValueKind.String ? Text(value, name) : throw Malformed($"'{name}' must be a string.");
    }

    /// <summary>An integer property that may be absent or null; anything else outside [min, max] is a 400.</summary>
    public static long? OptionalInteger(JsonElement body, string name, long min, long max)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < min || number > max)
            throw Malformed($"'{name}' must be an integer from {min} to {max}.");
        return number;
    }

    private static string Text(JsonElement value, string name)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // A \u escape may name half of a surrogate pair, which is no text at all.
            throw Malformed($"'{name}' is not valid Unicode text.");
        }
    }

    public static ApiProblem Malformed(string detail) => new(StatusCodes.Status400BadRequest, "Malformed request", detail);

    private static ApiProblem TooLarge() => new(StatusCodes.Status413PayloadTooLarge, "Request too large", "The request body is larger than this endpoint accepts.");
}
