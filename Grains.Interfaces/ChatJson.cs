using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatGrains;

/// <summary>
/// The one JSON shape of the contract (camelCase, ISO dates, nulls left out where the
/// contract marks a field optional), shared by the grain's events and the API's responses.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(MessageCreatedData))]
[JsonSerializable(typeof(MessageDeltaData))]
[JsonSerializable(typeof(MessageCompletedData))]
[JsonSerializable(typeof(MemberJoinedData))]
[JsonSerializable(typeof(MemberLeftData))]
[JsonSerializable(typeof(ConversationUpdatedData))]
[JsonSerializable(typeof(ConversationDeletedData))]
[JsonSerializable(typeof(ConversationHeadData))]
[JsonSerializable(typeof(ResetData))]
[JsonSerializable(typeof(PresenceData))]
[JsonSerializable(typeof(TypingData))]
[JsonSerializable(typeof(ConversationSnapshot))]
[JsonSerializable(typeof(InviteInfo))]
[JsonSerializable(typeof(IReadOnlyList<InviteInfo>))]
[JsonSerializable(typeof(ConversationListItem))]
[JsonSerializable(typeof(IReadOnlyList<ConversationListItem>))]
[JsonSerializable(typeof(ConversationRemovedData))]
[JsonSerializable(typeof(TokenUsage))]
public sealed partial class ChatJson : JsonSerializerContext
{
    /// <summary>
    /// The options every response and event is written with. Text is left as UTF-8 rather than
    /// \uXXXX-escaped (the JSON goes into event streams and API bodies, never into HTML), so
    /// a reply's bytes are not inflated for every watcher.
    /// </summary>
    public static JsonSerializerOptions WireOptions { get; } = new(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static ChatJson Wire { get; } = new(new JsonSerializerOptions(WireOptions));
}
