using System.Text.Json;
using ChatGrains.Storage;

namespace ChatGrains.Tests.LongConversations;

/// <summary>
/// A long conversation written straight to a store, as the service would have left it: one thread
/// of <c>count</c> messages m1, m2, … (odd ones prompts by the owner, even ones their complete
/// replies), each following the one before, with a <c>message.created</c> for each (event ids 1 to
/// count) and the head at the last reply. Posting 10,000 messages through a grain would take minutes.
/// </summary>
internal static class LongConversation
{
    public static string Id(int n) => $"m{n}";

    public static async Task SeedAsync(IConversationStore store, string conversationId, Caller owner, int count)
    {
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % 10));
        var messages = new List<StoredMessage>(count);
        var events = new List<ConversationEvent>(count);
        string? parent = null;
        for (var n = 1; n <= count; n++)
        {
            var message = n % 2 == 1
                ? new Message(Id(n), Roles.User, owner.UserId, owner.Name, $"prompt {n}", MessageStatus.Complete, null, now, ParentId: parent)
                : new Message(Id(n), Roles.Assistant, "assistant", "Assistant", $"reply {n}", MessageStatus.Complete, parent, now, ParentId: parent);
            messages.Add(new StoredMessage(message, n, message.Role == Roles.Assistant ? n : 0, message.Role == Roles.Assistant ? owner.UserId : null));
            events.Add(new ConversationEvent(n, EventTypes.MessageCreated, JsonSerializer.Serialize(new MessageCreatedData(message), ChatJson.Wire.MessageCreatedData)));
            parent = message.Id;
        }
        var head = messages.LastOrDefault(m => m.Message.Role == Roles.Assistant)?.Message.Id;
        await store.CommitAsync(new ConversationCommit(
            conversationId, new ConversationInfo(conversationId, "Long", owner.UserId, now), events,
            [new StoredMember(new Member(owner.UserId, owner.Name, MemberRoles.Owner), 0)], messages, [], [],
            count, now, Head: head));
    }
}
