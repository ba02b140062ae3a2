using ChatGrains.Conversation;

namespace ChatGrains.Tests.Grains;

/// <summary>The tree rules alone, without a cluster: parents, children, the head, paths and refusals.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class MessageTreeTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static Message Prompt(string id, string? parent) => new(id, Roles.User, "ada", "Ada", id, MessageStatus.Complete, null, Now, ParentId: parent);

    private static Message Reply(string id, string prompt) => new(id, Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Complete, prompt, Now, ParentId: prompt);

    /// <summary>p1 → r1 → p2 → r2, with p2b (an edit) and r1b (a regenerate) beside them.</summary>
    private static MessageTree Branched()
    {
        var tree = new MessageTree();
        foreach (var m in new[] { Prompt("p1", null), Reply("r1", "p1"), Prompt("p2", "r1"), Reply("r2", "p2"), Prompt("p2b", "r1"), Reply("r2b", "p2b"), Reply("r1b", "p1") })
            tree.Add(m);
        return tree;
    }

    [Fact]
    public void The_path_runs_from_the_first_prompt_to_the_message_through_its_own_branch_only()
    {
        var tree = Branched();

        Assert.Equal(["p1", "r1", "p2b", "r2b"], tree.PathTo("r2b"));
        Assert.Equal(["p1", "r1", "p2"], tree.PathTo("p2"));
        Assert.Equal(["p1", "r1b"], tree.PathTo("r1b"));
    }

    [Fact]
    public void Children_are_kept_in_creation_order_and_siblings_count_replies_to_the_same_prompt()
    {
        var tree = Branched();

        Assert.Equal(["p2", "p2b"], tree.Children("r1"));
        Assert.Equal(["r1", "r1b"], tree.Children("p1"));
        Assert.Equal(["p1"], tree.Children(null));
        Assert.Equal(0, tree.SiblingPosition("r1"));
        Assert.Equal(1, tree.SiblingPosition("r1b"));
    }

    [Fact]
    public void A_reply_named_only_by_reply_to_still_follows_its_prompt()
    {
        var tree = new MessageTree();
        tree.Add(Prompt("p", null));
        tree.Add(new Message("r", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Queued, "p", Now));

        Assert.Equal("p", tree.Parent("r"));
    }

    [Fact]
    public void A_new_prompt_follows_the_head_unless_it_names_a_parent_or_asks_to_start_over()
    {
        var tree = Branched();
        tree.MoveHead("r2");

        Assert.Equal("r2", tree.ParentForPrompt(null));
        Assert.Equal("r1b", tree.ParentForPrompt(new PromptParent("r1b")));
        Assert.Null(tree.ParentForPrompt(PromptParent.Root));
    }

    [Fact]
    public void A_prompt_as_parent_or_head_is_a_bad_request_and_an_unknown_one_is_not_found()
    {
        var tree = Branched();

        Assert.Equal(ConversationErrorKind.BadRequest, Assert.Throws<ConversationException>(() => tree.ParentForPrompt(new PromptParent("p2"))).Kind);
        Assert.Equal(ConversationErrorKind.NotFound, Assert.Throws<ConversationException>(() => tree.ParentForPrompt(new PromptParent("nope"))).Kind);
        Assert.Equal(ConversationErrorKind.BadRequest, Assert.Throws<ConversationException>(() => tree.MoveHead("p1")).Kind);
        Assert.Equal(ConversationErrorKind.NotFound, Assert.Throws<ConversationException>(() => tree.MoveHead("nope")).Kind);
        Assert.Null(tree.Head);
    }

    [Fact]
    public void Moving_the_head_where_it_already_is_changes_nothing()
    {
        var tree = Branched();

        Assert.True(tree.MoveHead("r2b"));
        Assert.False(tree.MoveHead("r2b"));
        Assert.Equal("r2b", tree.Head);
    }
}
