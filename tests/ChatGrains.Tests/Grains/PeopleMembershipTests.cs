using ChatGrains.Conversation;
using ChatGrains.Storage;

namespace ChatGrains.Tests.Grains;

/// <summary>Who may do what in a conversation, decided by <see cref="Membership"/> alone (no cluster).</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class PeopleMembershipTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static Membership AdaBobAndCy()
    {
        var people = new Membership();
        people.Put(new StoredMember(new Member("ada", "Ada", MemberRoles.Owner), 0));
        people.Put(new StoredMember(new Member("bob", "Bob", MemberRoles.Member), 3));
        people.Put(new StoredMember(new Member("cy", "Cy", MemberRoles.Member), 4));
        return people;
    }

    private static ConversationErrorKind Refusal(Action act) => Assert.Throws<ConversationException>(act).Kind;

    [Fact]
    public void A_member_may_leave_and_the_owner_may_remove_anyone_else()
    {
        var people = AdaBobAndCy();
        Assert.Equal("bob", people.CheckRemoval("bob", "bob").UserId);
        Assert.Equal("cy", people.CheckRemoval("ada", "cy").UserId);
    }

    [Fact]
    public void Removal_is_refused_in_order_stranger_then_unknown_target_then_forbidden_then_the_owner_leaving()
    {
        var people = AdaBobAndCy();
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.CheckRemoval("eve", "ada")));
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.CheckRemoval("bob", "eve")));
        Assert.Equal(ConversationErrorKind.Forbidden, Refusal(() => people.CheckRemoval("bob", "cy")));
        Assert.Equal(ConversationErrorKind.Forbidden, Refusal(() => people.CheckRemoval("bob", "ada")));
        Assert.Equal(ConversationErrorKind.Conflict, Refusal(() => people.CheckRemoval("ada", "ada")));
    }

    [Fact]
    public void Only_the_owner_may_delete_and_a_stranger_is_told_nothing()
    {
        var people = AdaBobAndCy();
        people.RequireOwner("ada", "delete");
        Assert.Equal(ConversationErrorKind.Forbidden, Refusal(() => people.RequireOwner("bob", "delete")));
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.RequireOwner("eve", "delete")));
    }

    [Fact]
    public void An_invite_works_until_the_instant_it_expires()
    {
        var people = AdaBobAndCy();
        var invite = Membership.NewInvite("bob", Now, new InviteTerms(TimeSpan.FromMinutes(1)));
        people.PutInvite(invite);

        Assert.Equal(Now.AddMinutes(1), invite.ExpiresAt);
        Assert.Equal(1, people.UseInvite(invite.Token, Now.AddMinutes(1).AddTicks(-10)).Uses);
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.UseInvite(invite.Token, Now.AddMinutes(1))));
    }

    [Fact]
    public void An_invite_with_a_use_limit_stops_at_that_many_uses()
    {
        var people = AdaBobAndCy();
        var invite = Membership.NewInvite("ada", Now, new InviteTerms(MaxUses: 2));
        people.PutInvite(invite);

        people.PutInvite(people.UseInvite(invite.Token, Now));
        people.PutInvite(people.UseInvite(invite.Token, Now));

        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.UseInvite(invite.Token, Now)));
        Assert.Equal(2, Assert.Single(people.ListInvites()).Uses);
    }

    [Fact]
    public void The_owner_or_the_invites_creator_may_revoke_it_and_then_it_is_unknown()
    {
        var people = AdaBobAndCy();
        var bobs = Membership.NewInvite("bob", Now, InviteTerms.None);
        var adas = Membership.NewInvite("ada", Now, InviteTerms.None);
        people.PutInvite(bobs);
        people.PutInvite(adas);

        Assert.Equal(ConversationErrorKind.Forbidden, Refusal(() => people.CheckRevoke("cy", bobs.Token)));
        Assert.Equal(ConversationErrorKind.Forbidden, Refusal(() => people.CheckRevoke("bob", adas.Token)));
        people.PutInvite(people.CheckRevoke("bob", bobs.Token));
        people.PutInvite(people.CheckRevoke("ada", adas.Token));

        Assert.Empty(people.ListInvites());
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.UseInvite(bobs.Token, Now)));
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.CheckRevoke("ada", bobs.Token)));
        Assert.Equal(ConversationErrorKind.NotFound, Refusal(() => people.CheckRevoke("ada", "unknown")));
    }
}
