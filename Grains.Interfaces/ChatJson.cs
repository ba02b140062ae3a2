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
[JsonSerializable(typeof(ResetData))]
[JsonSerializable(typeof(ConversationSnapshot))]
[JsonSerializable(typeof(ConversationSummary))]
[JsonSerializable(typeof(IReadOnlyList<ConversationSummary>))]
public sealed partial class ChatJson : JsonSerializerContext;
