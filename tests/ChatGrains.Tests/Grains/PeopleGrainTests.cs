using System.Text.Json;
using ChatGrains.Tests.Infrastructure;

using static ChatGrains.Tests.Grains.ConversationGrainTests;

namespace ChatGrains.Tests.Grains;

/// <summary>Roles, leaving and removal, renaming, deleting and invites with limits, on a two-silo cluster.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class PeopleGrainTests(ConversationCluster cluster) : IClassFixture<ConversationCluster>
{
    private static readonly Caller Ada = new("ada", "Ada");
    private static readonly Caller Bob = new("bob", "Bob");
    private static readonly Caller Cy = new("cy", "Cy");

    private async Task<(string Id, IConversationGrain Grain)> SharedWithAsync(params Caller[] others)
    {
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(Ada, "People");
        foreach (var other in others) await grain.JoinAsync(other, await grain.CreateInviteAsync(Ada.UserId));
        return (id, grain);
    }

    private static async Task<ConversationErrorKind> RefusalAsync(Func<Task> call) => (await Assert.ThrowsAsync<ConversationException>(call)).Kind;

    private static T Data<T>(ConversationEvent e) => JsonSerializer.Deserialize<T>(e.Data, ChatJson.WireOptions)!;

    [Fact]
    public async Task The_creator_is_the_owner_and_whoever_joins_is_a_member()
    {
        var (_, grain) = await SharedWithAsync(Bob);

        var members = (await grain.GetSnapshotAsync(Bob.UserId)).Members;

        Assert.Equal([new Member("ada", "Ada", MemberRoles.Owner), new Member("bob", "Bob", MemberRoles.Member)], members);
    }

    [Fact]
    public async Task A_member_who_leaves_gets_member_left_by_themself_and_is_then_a_stranger()
    {
        var (id, grain) = await SharedWithAsync(Bob);

        await grain.RemoveMemberAsync(Bob.UserId, Bob.UserId);

        var left = (await cluster.LogAsync(id))[^1];
        Assert.Equal(EventTypes.MemberLeft, left.Type);
        Assert.Equal(new MemberLeftData("bob", "Bob", "bob"), Data<MemberLeftData>(left));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetSnapshotAsync(Bob.UserId)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetHeadAsync(Bob.UserId)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.PostAsync(Bob, "still here?", null)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.ListInvitesAsync(Bob.UserId)));
        Assert.Equal([MemberRoles.Owner], (await grain.GetSnapshotAsync(Ada.UserId)).Members.Select(m => m.Role));
    }

    [Fact]
    public async Task The_owner_removes_others_a_member_may_not_and_the_owner_cannot_leave()
    {
        var (id, grain) = await SharedWithAsync(Bob, Cy);
        var before = (await cluster.LogAsync(id)).Count;

        Assert.Equal(ConversationErrorKind.Forbidden, await RefusalAsync(() => grain.RemoveMemberAsync(Bob.UserId, Cy.UserId)));
        Assert.Equal(ConversationErrorKind.Conflict, await RefusalAsync(() => grain.RemoveMemberAsync(Ada.UserId, Ada.UserId)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RemoveMemberAsync(Ada.UserId, "eve")));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RemoveMemberAsync("eve", Bob.UserId)));
        Assert.Equal(before, (await cluster.LogAsync(id)).Count);

        await grain.RemoveMemberAsync(Ada.UserId, Cy.UserId);

        Assert.Equal(new MemberLeftData("cy", "Cy", "ada"), Data<MemberLeftData>((await cluster.LogAsync(id))[^1]));
        Assert.Equal(["ada", "bob"], (await grain.GetSnapshotAsync(Ada.UserId)).Members.Select(m => m.UserId));
    }

    [Fact]
    public async Task A_removed_members_streaming_and_queued_replies_go_on_to_completion()
    {
        var (id, grain) = await SharedWithAsync(Bob);
        var streaming = await grain.PostAsync(Bob, "one", null);
        var queued = await grain.PostAsync(Bob, "two", null);
        await Eventually.Until(() => cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageDelta), TimeSpan.FromSeconds(10), "the reply streams");

        await grain.RemoveMemberAsync(Ada.UserId, Bob.UserId);

        var log = await Eventually.Until(() => cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) == 2,
            TimeSpan.FromSeconds(30), "both replies complete");
        var completions = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        Assert.Equal([streaming.AssistantMessageId, queued.AssistantMessageId], completions.Select(c => c.MessageId));
        Assert.All(completions, c => Assert.Equal(MessageStatus.Complete, c.Status));
    }

    [Fact]
    public async Task Renaming_publishes_conversation_updated_and_the_snapshot_has_the_new_title()
    {
        var (id, grain) = await SharedWithAsync(Bob);

        var snapshot = await grain.RenameAsync(Bob.UserId, "Bob's name for it");

        Assert.Equal("Bob's name for it", snapshot.Title);
        Assert.Equal(new ConversationUpdatedData("Bob's name for it"), Data<ConversationUpdatedData>((await cluster.LogAsync(id))[^1]));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RenameAsync(Cy.UserId, "mine")));
    }

    [Fact]
    public async Task Deleting_cancels_open_replies_ends_the_log_with_conversation_deleted_and_then_nobody_finds_it()
    {
        var (id, grain) = await SharedWithAsync(Bob);
        var streaming = await grain.PostAsync(Bob, "one", null);
        var queued = await grain.PostAsync(Bob, "two", null);
        await Eventually.Until(() => cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageDelta), TimeSpan.FromSeconds(10), "the reply streams");
        Assert.Equal(ConversationErrorKind.Forbidden, await RefusalAsync(() => grain.DeleteAsync(Bob.UserId)));

        await grain.DeleteAsync(Ada.UserId);

        var log = await cluster.LogAsync(id);
        AssertConsecutive(log);
        Assert.Equal(EventTypes.ConversationDeleted, log[^1].Type);
        var completions = log.Where(e => e.Type == EventTypes.MessageCompleted).Select(Completed).ToList();
        Assert.Equal([streaming.AssistantMessageId, queued.AssistantMessageId], completions.Select(c => c.MessageId));
        Assert.All(completions, c => Assert.Equal(MessageStatus.Cancelled, c.Status));
        Assert.True((await grain.ReadEventsAsync(log[^1].Id, 100)).Gone);
        foreach (var user in new[] { Ada, Bob })
        {
            Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.GetSnapshotAsync(user.UserId)));
            Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.PostAsync(user, "hello?", null)));
        }
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.DeleteAsync(Ada.UserId)));
    }

    [Fact]
    public async Task An_invite_stops_letting_people_in_once_it_expires_and_is_still_listed()
    {
        var (_, grain) = await SharedWithAsync();
        var invite = await grain.InviteAsync(Ada.UserId, new InviteTerms(TimeSpan.FromSeconds(3)));
        await grain.JoinAsync(Bob, invite.InviteToken);

        // Someone new tries until the invite has expired; every try before that gets in.
        var attempt = 0;
        await Eventually.Until(async () =>
        {
            try
            {
                await grain.JoinAsync(new Caller($"late-{++attempt}", "Late"), invite.InviteToken);
                return (ConversationErrorKind?)null;
            }
            catch (ConversationException e)
            {
                return e.Kind;
            }
        }, kind => kind is not null, TimeSpan.FromSeconds(20), "the invite has expired");

        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.JoinAsync(Cy, invite.InviteToken)));
        var listed = Assert.Single(await grain.ListInvitesAsync(Ada.UserId));
        Assert.Equal((invite.InviteToken, invite.ExpiresAt), (listed.InviteToken, listed.ExpiresAt));
        Assert.Equal(attempt, listed.Uses); // Bob and every late one who got in
    }

    [Fact]
    public async Task An_invite_with_a_use_limit_lets_in_that_many_and_a_member_joining_again_uses_nothing()
    {
        var (_, grain) = await SharedWithAsync();
        var invite = await grain.InviteAsync(Ada.UserId, new InviteTerms(MaxUses: 2));

        await grain.JoinAsync(Bob, invite.InviteToken);
        await grain.JoinAsync(Bob, invite.InviteToken);
        await grain.JoinAsync(Ada, invite.InviteToken);
        await grain.JoinAsync(Cy, invite.InviteToken);

        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.JoinAsync(new Caller("eve", "Eve"), invite.InviteToken)));
        Assert.Equal(2, Assert.Single(await grain.ListInvitesAsync(Bob.UserId)).Uses);
        Assert.Equal(["ada", "bob", "cy"], (await grain.GetSnapshotAsync(Ada.UserId)).Members.Select(m => m.UserId));
    }

    [Fact]
    public async Task A_revoked_invite_lets_no_one_in_and_only_the_owner_or_its_creator_may_revoke_it()
    {
        var (_, grain) = await SharedWithAsync(Bob, Cy);
        var bobs = await grain.InviteAsync(Bob.UserId, InviteTerms.None);
        var adas = await grain.InviteAsync(Ada.UserId, InviteTerms.None);

        Assert.Equal(ConversationErrorKind.Forbidden, await RefusalAsync(() => grain.RevokeInviteAsync(Cy.UserId, bobs.InviteToken)));
        await grain.RevokeInviteAsync(Bob.UserId, bobs.InviteToken);
        await grain.RevokeInviteAsync(Ada.UserId, adas.InviteToken);

        var eve = new Caller("eve", "Eve");
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.JoinAsync(eve, bobs.InviteToken)));
        Assert.Equal(ConversationErrorKind.NotFound, await RefusalAsync(() => grain.RevokeInviteAsync(Ada.UserId, bobs.InviteToken)));
        Assert.DoesNotContain(await grain.ListInvitesAsync(Ada.UserId), i => i.InviteToken == bobs.InviteToken || i.InviteToken == adas.InviteToken);
    }

    [Fact]
    public async Task Roles_uses_and_revocations_survive_the_conversation_moving_to_a_fresh_activation()
    {
        var (_, grain) = await SharedWithAsync(Bob);
        var invite = await grain.InviteAsync(Ada.UserId, new InviteTerms(TimeSpan.FromHours(1), 5));
        await grain.JoinAsync(Cy, invite.InviteToken);
        var revoked = await grain.InviteAsync(Ada.UserId, InviteTerms.None);
        await grain.RevokeInviteAsync(Ada.UserId, revoked.InviteToken);
        await grain.RenameAsync(Ada.UserId, "Kept");

        await cluster.Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var snapshot = await grain.GetSnapshotAsync(Cy.UserId);
        Assert.Equal("Kept", snapshot.Title);
        Assert.Equal([MemberRoles.Owner, MemberRoles.Member, MemberRoles.Member], snapshot.Members.Select(m => m.Role));
        var listed = (await grain.ListInvitesAsync(Ada.UserId)).Single(i => i.InviteToken == invite.InviteToken);
        Assert.Equal((1, (int?)5, invite.ExpiresAt), (listed.Uses, listed.MaxUses, listed.ExpiresAt));
        Assert.DoesNotContain(await grain.ListInvitesAsync(Ada.UserId), i => i.InviteToken == revoked.InviteToken);
    }
}
