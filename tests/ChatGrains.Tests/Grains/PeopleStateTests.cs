using ChatGrains.Conversation;
using ChatGrains.Storage;

namespace ChatGrains.Tests.Grains;

/// <summary>What the people changes commit: the events and the rows the store must write or delete.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class PeopleStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static (ConversationState State, Invite Invite) AdaAndBob()
    {
        var state = ConversationState.New(new ConversationInfo("c", "Title", "ada", Now), new Caller("ada", "Ada"));
        var invite = state.AddInvite("ada", Now, new InviteTerms(MaxUses: 5));
        state.Join(new Caller("bob", "Bob"), invite.Token, Now);
        state.TakeCommit(Now, 10_000);
        return (state, invite);
    }

    [Fact]
    public void A_join_stores_the_member_with_their_joined_event_and_the_invite_with_one_more_use()
    {
        var state = ConversationState.New(new ConversationInfo("c", "Title", "ada", Now), new Caller("ada", "Ada"));
        var invite = state.AddInvite("ada", Now, InviteTerms.None);
        Assert.Equal([new StoredMember(new Member("ada", "Ada", MemberRoles.Owner), 0)], state.TakeCommit(Now, 10_000)!.Members);

        state.Join(new Caller("bob", "Bob"), invite.Token, Now);
        var commit = state.TakeCommit(Now, 10_000)!;

        var joined = Assert.Single(commit.Events);
        Assert.Equal([new StoredMember(new Member("bob", "Bob", MemberRoles.Member), joined.Id)], commit.Members);
        Assert.Equal([invite with { Uses = 1 }], commit.Invites);
    }

    [Fact]
    public void A_removal_deletes_the_member_row_and_a_rename_changes_the_title_row()
    {
        var (state, _) = AdaAndBob();

        state.RemoveMember("ada", "bob");
        state.Rename("New title");
        var commit = state.TakeCommit(Now, 10_000)!;

        Assert.Equal([EventTypes.MemberLeft, EventTypes.ConversationUpdated], commit.Events.Select(e => e.Type));
        Assert.Equal(["bob"], commit.RemovedMemberIds);
        Assert.Equal("New title", commit.Title);
        Assert.False(state.IsMember("bob"));
    }

    [Fact]
    public void A_delete_cancels_every_open_reply_then_ends_the_log_and_asks_for_every_row_to_go()
    {
        var (state, _) = AdaAndBob();
        state.AddMessage(new Message("p", Roles.User, "bob", "Bob", "Hello?", MessageStatus.Complete, null, Now));
        state.AddMessage(new Message("r", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Streaming, "p", Now));
        state.AppendDelta("r", "Hel");
        state.TakeCommit(Now, 10_000);

        state.Delete();
        var commit = state.TakeCommit(Now, 10_000)!;

        Assert.Equal([EventTypes.MessageCompleted, EventTypes.ConversationDeleted], commit.Events.Select(e => e.Type));
        Assert.Equal(new StoredMessage(new Message("r", Roles.Assistant, "assistant", "Assistant", "Hel", MessageStatus.Cancelled, "p", Now, MessageCompletedData.DeletedError), 3, commit.Events[0].Id),
            Assert.Single(commit.Messages));
        Assert.True(commit.Delete);
        Assert.False(state.IsMember("ada"));
    }
}
