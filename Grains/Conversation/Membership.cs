using System.Security.Cryptography;
using ChatGrains.Storage;

namespace ChatGrains.Conversation;

/// <summary>
/// Who belongs to a conversation and who may do what: its members with their roles, and the
/// invites that let others in. It decides and refuses (a <see cref="ConversationException"/>
/// that changes nothing); <see cref="ConversationState"/> turns what it allows into events and rows.
/// Checks go in the contract's order: a caller who is not a member is NotFound before anything
/// else, then Forbidden, then Conflict.
/// </summary>
public sealed class Membership
{
    // Join order: the snapshot lists members as they came.
    private readonly List<StoredMember> _members = [];
    private readonly Dictionary<string, Invite> _invites = [];

    public IEnumerable<Member> Members => _members.Select(m => m.Member);

    public bool IsMember(string userId) => Find(userId) is not null;

    public Member? Find(string userId) => _members.Find(m => m.Member.UserId == userId)?.Member;

    /// <summary>The caller as a member, or NotFound: a conversation is not revealed to anyone else.</summary>
    public Member Require(string userId) => Find(userId) ?? throw ConversationException.NotFound("The conversation");

    public void RequireOwner(string userId, string action)
    {
        if (Require(userId).Role != MemberRoles.Owner) throw ConversationException.Forbidden($"Only the owner may {action}.");
    }

    public void Put(StoredMember member)
    {
        _members.RemoveAll(m => m.Member.UserId == member.Member.UserId);
        _members.Add(member);
    }

    /// <summary>Who leaves when <paramref name="by"/> removes <paramref name="userId"/>, if they may.</summary>
    public Member CheckRemoval(string by, string userId)
    {
        var caller = Require(by);
        var target = Find(userId) ?? throw ConversationException.NotFound("The member");
        if (by != userId && caller.Role != MemberRoles.Owner)
            throw ConversationException.Forbidden("Only the owner may remove other members.");
        if (target.Role == MemberRoles.Owner)
            throw ConversationException.Conflict("The owner cannot leave their conversation; delete it instead.");
        return target;
    }

    public void Remove(string userId) => _members.RemoveAll(m => m.Member.UserId == userId);

    public void PutInvite(Invite invite) => _invites[invite.Token] = invite;

    public static Invite NewInvite(string createdBy, DateTimeOffset now, InviteTerms terms) => new(
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_'),
        createdBy, now, now + terms.ExpiresIn, terms.MaxUses);

    /// <summary>The invite with one more use, or NotFound when it is unknown, revoked, expired or used up.</summary>
    public Invite UseInvite(string token, DateTimeOffset now)
    {
        if (!_invites.TryGetValue(token, out var invite) || invite.Revoked || invite.ExpiresAt <= now || invite.Uses >= invite.MaxUses)
            throw ConversationException.NotFound("The invite");
        return invite with { Uses = invite.Uses + 1 };
    }

    /// <summary>The invite revoked, if <paramref name="by"/> may: the owner, or whoever made it.</summary>
    public Invite CheckRevoke(string by, string token)
    {
        var caller = Require(by);
        if (!_invites.TryGetValue(token, out var invite) || invite.Revoked) throw ConversationException.NotFound("The invite");
        if (caller.Role != MemberRoles.Owner && invite.CreatedBy != by)
            throw ConversationException.Forbidden("Only the owner or the invite's creator may revoke it.");
        return invite with { Revoked = true };
    }

    /// <summary>The invites members see: every one but the revoked, in the order they were made.</summary>
    public IReadOnlyList<InviteInfo> ListInvites() => _invites.Values
        .Where(i => !i.Revoked)
        .Select(i => new InviteInfo(i.Token, i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.MaxUses, i.Uses))
        .ToList();
}
