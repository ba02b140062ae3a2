using System.Text.Json;

namespace ChatGrains.Storage;

/// <summary>
/// Whether an event read back from the store is one a client may be sent: one of the contract's
/// stored event types, with the payload that type must carry. A row that is not (bad JSON, an
/// unknown type, a payload without its ids) is a poison event: it cannot be replayed, and
/// the grain treats the log as starting after it.
/// </summary>
public static class StoredEvent
{
    public static bool IsWellFormed(ConversationEvent e)
    {
        try
        {
            return e.Type switch
            {
                EventTypes.MessageCreated => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCreatedData)?.Message is
                {
                    Id.Length: > 0, Role: Roles.User or Roles.Assistant, AuthorId: not null, AuthorName: not null,
                    Content: not null, Status: MessageStatus.Queued or MessageStatus.Streaming or MessageStatus.Complete or MessageStatus.Cancelled or MessageStatus.Failed,
                },
                EventTypes.MessageDelta => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageDeltaData) is { MessageId.Length: > 0, Delta: not null },
                EventTypes.MessageCompleted => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCompletedData) is { MessageId.Length: > 0, Content: not null } completed
                    && MessageStatus.IsFinal(completed.Status ?? ""),
                EventTypes.MemberJoined => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MemberJoinedData) is { UserId.Length: > 0, Name: not null },
                EventTypes.MemberLeft => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MemberLeftData) is { UserId.Length: > 0, Name: not null, By.Length: > 0 },
                EventTypes.ConversationUpdated => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.ConversationUpdatedData) is { Title.Length: > 0 },
                EventTypes.ConversationDeleted => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.ConversationDeletedData) is not null,
                EventTypes.ConversationHead => JsonSerializer.Deserialize(e.Data, ChatJson.Wire.ConversationHeadData) is { MessageId.Length: > 0 },
                _ => false,
            };
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
