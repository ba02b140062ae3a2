using ChatGrains.Users;

namespace ChatGrains.Tests.Users;

/// <summary>The user's list diffing and coalescing, without a cluster.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class UserListTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static ConversationListItem Item(string id, int unread = 0, string title = "t") =>
        new(id, title, "ada", T0, T0.AddSeconds(unread), "owner", unread, 0);

    [Fact]
    public void A_new_conversation_is_added_and_a_lost_one_removed_at_once()
    {
        var list = new UserList([], Second);
        var changes = new List<UserChange>();
        list.Observe("c1", Item("c1"), "", T0, changes);
        list.Observe("c1", null, RemovalReasons.Left, T0, changes);

        Assert.Equal([UserEventTypes.ConversationAdded, UserEventTypes.ConversationRemoved], changes.Select(c => c.Type));
        Assert.Equal(RemovalReasons.Left, changes[1].Reason);
        Assert.Empty(list.Listed);
    }

    [Fact]
    public void Updates_go_out_at_most_once_a_second_and_the_last_one_is_always_sent()
    {
        var list = new UserList([Item("c1")], Second);
        var changes = new List<UserChange>();
        list.Observe("c1", Item("c1", 1), "", T0, changes);
        list.Observe("c1", Item("c1", 2), "", T0.AddMilliseconds(100), changes);
        list.Observe("c1", Item("c1", 3), "", T0.AddMilliseconds(200), changes);
        list.TakeDue(T0.AddMilliseconds(500), changes);
        Assert.Equal([1], changes.Select(c => c.Item!.Unread));
        Assert.True(list.HasHeld);

        list.TakeDue(T0.AddSeconds(1), changes);
        Assert.Equal([1, 3], changes.Select(c => c.Item!.Unread));
        Assert.False(list.HasHeld);
    }

    [Fact]
    public void An_unchanged_item_sends_nothing_and_a_change_undone_before_it_was_sent_is_dropped()
    {
        var list = new UserList([Item("c1")], Second);
        var changes = new List<UserChange>();
        list.Observe("c1", Item("c1"), "", T0, changes);
        list.Observe("c1", Item("c1", 1), "", T0, changes);
        list.Observe("c1", Item("c1", 2), "", T0.AddMilliseconds(10), changes);
        list.Observe("c1", Item("c1", 1), "", T0.AddMilliseconds(20), changes);
        list.TakeDue(T0.AddSeconds(2), changes);

        Assert.Equal([1], changes.Select(c => c.Item!.Unread));
    }

    [Fact]
    public void Reconcile_adds_what_the_stream_lacks_updates_what_differs_and_names_what_is_gone()
    {
        var list = new UserList([Item("kept"), Item("stale"), Item("gone")], Second);
        var changes = new List<UserChange>();
        var gone = list.Reconcile([Item("new", 1), Item("stale", 2), Item("kept")], T0, changes);

        Assert.Equal(["gone"], gone);
        Assert.Equal([(UserEventTypes.ConversationAdded, "new"), (UserEventTypes.ConversationUpdated, "stale")],
            changes.Select(c => (c.Type, c.ConversationId)).OrderBy(c => c.ConversationId));
    }
}
