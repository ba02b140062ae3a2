using System.Text.Json;

namespace ChatGrains.Conversation;

/// <summary>
/// After a conversation's commit, tells each member whose list it changes — through their user
/// grain — that "conversation X changed for you", and how: added (created or joined), removed
/// (left, removed, deleted) or activity (a message created or completed, a rename, someone came
/// or went). Deltas change nobody's list and notify no one. The calls are one-way: the
/// conversation never waits for its members' grains. They are hints, not the data: each user
/// grain reads the truth from the store, and reconciles its whole list now and then, so a hint
/// lost with a silo only delays the change.
/// </summary>
public static class MemberNotifications
{
    /// <summary>
    /// <paramref name="members"/>: who is a member after the commit (and, for a delete, who was
    /// just before). <paramref name="created"/>: the commit created the conversation (its owner is added).
    /// </summary>
    public static void AfterCommit(IGrainFactory grains, string conversationId, string? createdBy,
        IReadOnlyList<ConversationEvent> events, IEnumerable<string> members)
    {
        var changes = Changes(createdBy, events, members);
        foreach (var (userId, (kind, removal)) in changes)
            _ = grains.GetGrain<IUserGrain>(userId).ConversationChangedAsync(conversationId, kind, removal);
    }

    /// <summary>Each affected user and the one change to tell them (added or removed win over activity).</summary>
    public static Dictionary<string, (ConversationChangeKind Kind, string? Removal)> Changes(
        string? createdBy, IReadOnlyList<ConversationEvent> events, IEnumerable<string> members)
    {
        var changes = new Dictionary<string, (ConversationChangeKind, string?)>(StringComparer.Ordinal);
        if (createdBy is not null) changes[createdBy] = (ConversationChangeKind.Added, null);
        var activity = false;
        foreach (var e in events)
        {
            switch (e.Type)
            {
                case EventTypes.MemberJoined:
                    changes[JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MemberJoinedData)!.UserId] = (ConversationChangeKind.Added, null);
                    activity = true;
                    break;
                case EventTypes.MemberLeft:
                    var left = JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MemberLeftData)!;
                    changes[left.UserId] = (ConversationChangeKind.Removed, left.By == left.UserId ? RemovalReasons.Left : RemovalReasons.Removed);
                    activity = true;
                    break;
                case EventTypes.ConversationDeleted:
                    foreach (var member in members) changes[member] = (ConversationChangeKind.Removed, RemovalReasons.Deleted);
                    return changes;
                case EventTypes.MessageCreated or EventTypes.MessageCompleted or EventTypes.ConversationUpdated:
                    activity = true;
                    break;
            }
        }
        if (activity)
        {
            foreach (var member in members) changes.TryAdd(member, (ConversationChangeKind.Activity, null));
        }
        return changes;
    }
}
