using ChatGrains.Conversation;

namespace ChatGrains.Tests.Users;

/// <summary>Who a conversation's commit notifies, and how, without a cluster.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class MemberNotificationsTests
{
    private static ConversationEvent E(string type, string data = "{}") => new(1, type, data);

    [Fact]
    public void Creation_adds_the_owner_a_join_adds_the_joiner_and_tells_the_others_of_activity()
    {
        Assert.Equal([("ada", ConversationChangeKind.Added)], Kinds(MemberNotifications.Changes("ada", [], ["ada"])));
        var joined = MemberNotifications.Changes(null, [E(EventTypes.MemberJoined, """{"userId":"bob","name":"Bob"}""")], ["ada", "bob"]);
        Assert.Equal([("ada", ConversationChangeKind.Activity), ("bob", ConversationChangeKind.Added)], Kinds(joined));
    }

    [Fact]
    public void Leaving_and_removal_say_which_and_delete_removes_everyone()
    {
        var left = MemberNotifications.Changes(null, [E(EventTypes.MemberLeft, """{"userId":"bob","name":"Bob","by":"bob"}""")], ["ada"]);
        Assert.Equal((ConversationChangeKind.Removed, RemovalReasons.Left), left["bob"]);
        var removed = MemberNotifications.Changes(null, [E(EventTypes.MemberLeft, """{"userId":"bob","name":"Bob","by":"ada"}""")], ["ada"]);
        Assert.Equal((ConversationChangeKind.Removed, RemovalReasons.Removed), removed["bob"]);
        Assert.Equal(ConversationChangeKind.Activity, removed["ada"].Kind);

        var deleted = MemberNotifications.Changes(null, [E(EventTypes.MessageCompleted), E(EventTypes.ConversationDeleted)], ["ada", "bob"]);
        Assert.All(deleted.Values, v => Assert.Equal((ConversationChangeKind.Removed, RemovalReasons.Deleted), v));
        Assert.Equal(2, deleted.Count);
    }

    [Fact]
    public void Messages_and_renames_are_activity_and_deltas_notify_no_one()
    {
        Assert.Empty(MemberNotifications.Changes(null, [E(EventTypes.MessageDelta)], ["ada", "bob"]));
        Assert.Equal(2, MemberNotifications.Changes(null, [E(EventTypes.MessageCreated), E(EventTypes.MessageDelta)], ["ada", "bob"]).Count);
        Assert.Equal(2, MemberNotifications.Changes(null, [E(EventTypes.ConversationUpdated)], ["ada", "bob"]).Count);
    }

    private static IEnumerable<(string, ConversationChangeKind)> Kinds(Dictionary<string, (ConversationChangeKind Kind, string? Removal)> changes) =>
        changes.OrderBy(c => c.Key).Select(c => (c.Key, c.Value.Kind));
}
