using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Orleans.Runtime;

namespace ChatGrains;

/// <summary>
/// One numbered change to a conversation, as it travels on the Orleans stream and is
/// stored in the log. <see cref="Data"/> is the event's JSON, serialized once by the grain
/// so that no host or watcher serializes it again. <see cref="CreatedAtTicks"/> is for
/// benchmarks only: 0 unless <c>Conversation:StampEventTimes</c> is on, never stored, and
/// not part of the event's data. <see cref="SentAtTicks"/> (when the grain published it, UTC
/// ticks) and <see cref="TraceParent"/> (the W3C trace context it was published in: a reply's
/// span for its deltas and completion) are set on every published copy, for telemetry only:
/// never stored, so events read back from the grain or the store carry neither.
/// <see cref="MessageId"/> and <see cref="Reply"/> say, typed, what a <c>message.*</c> event's
/// <see cref="Data"/> already says (the message it is about, and whether it opens or ends a
/// reply), so that hosts need not parse the JSON the grain formatted. They are not stored (the
/// data holds them once): the grain sets them when it emits an event and when it reads one back
/// from the store (<see cref="WithMessageFields"/>); a host parses them once, on arrival, only
/// from an event of a silo of the previous build. Appended with new ids, so hosts and silos of
/// the previous build still read each other's events.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConversationEvent(
    [property: Id(0)] long Id,
    [property: Id(1)] string Type,
    [property: Id(2)] string Data,
    [property: Id(3)] long CreatedAtTicks = 0,
    [property: Id(4)] long SentAtTicks = 0,
    [property: Id(5)] string? TraceParent = null,
    [property: Id(6)] string? MessageId = null,
    [property: Id(7)] ReplyStep Reply = ReplyStep.None)
{
    /// <summary>An event as the grain emits it: its data serialized once, and its message fields set from the data it was made of.</summary>
    public static ConversationEvent Create<T>(long id, string type, T data, JsonTypeInfo<T> json)
    {
        var (messageId, reply) = MessageFields(data);
        return new ConversationEvent(id, type, JsonSerializer.Serialize(data, json), MessageId: messageId, Reply: reply);
    }

    /// <summary>
    /// This event with its message fields, parsed once from <see cref="Data"/> when it came
    /// without them (read back from the store, or published by a silo of the previous build).
    /// </summary>
    public ConversationEvent WithMessageFields()
    {
        if (MessageId is not null) return this;
        var (messageId, reply) = Type switch
        {
            EventTypes.MessageCreated => MessageFields(JsonSerializer.Deserialize(Data, ChatJson.Wire.MessageCreatedData)),
            EventTypes.MessageDelta => MessageFields(JsonSerializer.Deserialize(Data, ChatJson.Wire.MessageDeltaData)),
            EventTypes.MessageCompleted => MessageFields(JsonSerializer.Deserialize(Data, ChatJson.Wire.MessageCompletedData)),
            _ => (null, ReplyStep.None),
        };
        return messageId is null ? this : this with { MessageId = messageId, Reply = reply };
    }

    private static (string? MessageId, ReplyStep Reply) MessageFields(object? data) => data switch
    {
        MessageCreatedData { Message: { } m } => (m.Id, m.Role == Roles.Assistant && !MessageStatus.IsFinal(m.Status) ? ReplyStep.Opened : ReplyStep.None),
        MessageDeltaData d => (d.MessageId, ReplyStep.None),
        MessageCompletedData c => (c.MessageId, c.Error == MessageCompletedData.DeletedError ? ReplyStep.EndedByDelete : ReplyStep.Ended),
        _ => (null, ReplyStep.None),
    };
}

/// <summary>What a <c>message.*</c> event does to the reply its <see cref="ConversationEvent.MessageId"/> names.</summary>
[GenerateSerializer]
public enum ReplyStep : byte
{
    None = 0,
    /// <summary>A <c>message.created</c> of a reply still to be generated (queued or streaming).</summary>
    Opened = 1,
    /// <summary>A <c>message.completed</c>.</summary>
    Ended = 2,
    /// <summary>
    /// A <c>message.completed</c> that cancels the reply because its conversation is being deleted:
    /// a POST stream goes on to the <c>conversation.deleted</c> that follows instead of ending here.
    /// </summary>
    EndedByDelete = 3,
}

public static class EventTypes
{
    public const string MessageCreated = "message.created";
    public const string MessageDelta = "message.delta";
    public const string MessageCompleted = "message.completed";
    public const string MemberJoined = "member.joined";
    public const string MemberLeft = "member.left";
    public const string ConversationUpdated = "conversation.updated";
    /// <summary>The last event of a deleted conversation: every stream of it ends after it.</summary>
    public const string ConversationDeleted = "conversation.deleted";
    /// <summary>The shared head moved: the thread everyone sees now ends at this assistant message.</summary>
    public const string ConversationHead = "conversation.head";
    /// <summary>Sent without an id when a resume point cannot be served; never stored.</summary>
    public const string Reset = "reset";
}

/// <summary>The JSON payloads of the events, exactly as the contract names their fields.</summary>
public sealed record MessageCreatedData(Message Message);

public sealed record MessageDeltaData(string MessageId, string Delta);

/// <summary>
/// A reply cancelled because its conversation is being deleted carries <see cref="DeletedError"/>
/// as its error: a POST stream then goes on to the <c>conversation.deleted</c> that follows.
/// </summary>
public sealed record MessageCompletedData(
    string MessageId,
    string Status,
    string Content,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Error,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] Usage? Usage = null)
{
    public const string DeletedError = "conversation deleted";
}

public sealed record MemberJoinedData(string UserId, string Name);

/// <summary><see cref="By"/> is the user's own id when they left, the owner's when removed.</summary>
public sealed record MemberLeftData(string UserId, string Name, string By);

public sealed record ConversationUpdatedData(string Title);

public sealed record ConversationDeletedData;

public sealed record ConversationHeadData(string MessageId);

public sealed record ResetData(long LastEventId);

/// <summary>Where conversations publish their events.</summary>
public static class ConversationStreams
{
    public const string Provider = "Conversations";
    public const string Namespace = "conversation";

    public static StreamId For(string conversationId) => StreamId.Create(Namespace, conversationId);
}
