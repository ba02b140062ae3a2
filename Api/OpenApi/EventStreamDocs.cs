using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ChatGrains.Api.OpenApi;

/// <summary>One event type of a stream: its <c>event:</c> name, the type of its JSON <c>data</c>, and whether it carries an <c>id:</c>.</summary>
public sealed record StreamEventType(string Name, Type Data, bool HasId, string Description);

/// <summary>
/// A route that answers <c>200 text/event-stream</c>, and the event types that stream carries.
/// Written into the document by <see cref="EventStreamSchemas"/>: as .NET's own
/// <c>TypedResults.ServerSentEvents</c> documents its item type under <c>text/event-stream</c>,
/// but with a schema per event type (<c>oneOf</c>, told apart by <c>event</c>) since one
/// stream carries many.
/// </summary>
public sealed record EventStreamMetadata(string Description, IReadOnlyList<StreamEventType> Events);

/// <summary>The event types of the contract's streams.</summary>
public static class StreamEvents
{
    public static readonly IReadOnlyList<StreamEventType> ConversationChanges =
    [
        new(EventTypes.MessageCreated, typeof(MessageCreatedData), true, "A prompt or a reply was added (a reply starts `queued`)."),
        new(EventTypes.MessageDelta, typeof(MessageDeltaData), true, "More text of a streaming reply."),
        new(EventTypes.MessageCompleted, typeof(MessageCompletedData), true, "A reply ended: `completed`, `cancelled` or `failed`, with its whole content."),
        new(EventTypes.MemberJoined, typeof(MemberJoinedData), true, "Someone joined with an invite."),
        new(EventTypes.MemberLeft, typeof(MemberLeftData), true, "Someone left or was removed (`by`)."),
        new(EventTypes.ConversationUpdated, typeof(ConversationUpdatedData), true, "The conversation was renamed."),
        new(EventTypes.ConversationHead, typeof(ConversationHeadData), true, "The shared head moved to this assistant message."),
        new(EventTypes.ConversationDeleted, typeof(ConversationDeletedData), true, "The conversation was deleted: the stream ends after this event."),
    ];

    public static readonly StreamEventType Reset = new(EventTypes.Reset, typeof(ResetData), false,
        "The resume point cannot be served (gone from the log, or ahead of the server): reload the snapshot. The stream ends.");

    public static readonly IReadOnlyList<StreamEventType> Ephemeral =
    [
        new(EphemeralEvents.Presence, typeof(PresenceData), false, "Who is watching now (never replayed)."),
        new(EphemeralEvents.Typing, typeof(TypingData), false, "A member is typing (never replayed)."),
    ];

    public static readonly IReadOnlyList<StreamEventType> UserChanges =
    [
        new(UserEventTypes.ConversationAdded, typeof(ConversationListItem), true, "A conversation joined the caller's list (the whole list item)."),
        new(UserEventTypes.ConversationUpdated, typeof(ConversationListItem), true, "A list item changed (title, activity, unread count, read position)."),
        new(UserEventTypes.ConversationRemoved, typeof(ConversationRemovedData), true, "A conversation left the caller's list (deleted, or the caller left or was removed)."),
    ];

    /// <summary>A prompt's or regeneration's stream: from its <c>message.created</c> through its reply's <c>message.completed</c>.</summary>
    public static readonly IReadOnlyList<StreamEventType> Exchange = [.. ConversationChanges, Reset];

    /// <summary>A conversation's watch stream: every change, live, plus who is online and typing.</summary>
    public static readonly IReadOnlyList<StreamEventType> Watch = [.. ConversationChanges, .. Ephemeral, Reset];

    /// <summary>The caller's own stream (their list kept live).</summary>
    public static readonly IReadOnlyList<StreamEventType> User = [.. UserChanges, Reset];
}

/// <summary>Fills each event-stream response with a schema per event type and a description listing them.</summary>
internal sealed class EventStreamSchemas : IOpenApiOperationTransformer
{
    public const string ContentType = "text/event-stream";

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<EventStreamMetadata>().LastOrDefault() is not { } stream) return;
        var oneOf = new List<IOpenApiSchema>();
        foreach (var type in stream.Events)
        {
            var data = await context.GetOrCreateSchemaAsync(type.Data, null, cancellationToken);
            var properties = new Dictionary<string, IOpenApiSchema>
            {
                ["event"] = new OpenApiSchema { Type = JsonSchemaType.String, Const = type.Name, Description = "The `event:` line." },
                ["data"] = data,
            };
            if (type.HasId)
                properties["id"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Description = "The `id:` line: the event's sequence number, the resume point (`Last-Event-ID`)." };
            oneOf.Add(new OpenApiSchema
            {
                Title = type.Name,
                Description = type.Description + (type.HasId ? "" : " Sent without an `id:`."),
                Type = JsonSchemaType.Object,
                Required = new HashSet<string>(type.HasId ? ["event", "id", "data"] : ["event", "data"]),
                Properties = properties,
            });
        }
        var list = string.Join("\n", stream.Events.Select(e => $"- `{e.Name}`{(e.HasId ? "" : " (no `id:`)")}: {e.Description}"));
        operation.Responses ??= [];
        if (!operation.Responses.TryGetValue("200", out var response) || response is not OpenApiResponse ok)
            operation.Responses["200"] = ok = new OpenApiResponse();
        ok.Description = $"{stream.Description}\n\nEach event is `event: <type>`, `id: <n>` (where it has one) and one `data:` line of JSON; " +
            $"comment lines (`:`) are heartbeats. The events:\n\n{list}";
        ok.Content ??= new Dictionary<string, OpenApiMediaType>();
        ok.Content[ContentType] = new OpenApiMediaType
        {
            Schema = new OpenApiSchema { OneOf = oneOf, Description = "One event of the stream (its lines, as an object)." },
            Extensions = new Dictionary<string, IOpenApiExtension> { ["x-event-types"] = new JsonNodeExtension(new JsonArray([.. stream.Events.Select(e => (JsonNode)e.Name)])) },
        };
    }
}
