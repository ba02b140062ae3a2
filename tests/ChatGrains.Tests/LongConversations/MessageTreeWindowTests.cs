using ChatGrains.Conversation;

namespace ChatGrains.Tests.LongConversations;

/// <summary>The tree when it holds only part of a conversation: messages leave it and come back from the store.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class MessageTreeWindowTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch;

    private static Message Prompt(string id, string? parent) => new(id, Roles.User, "ada", "Ada", id, MessageStatus.Complete, null, Now, ParentId: parent);

    private static Message Reply(string id, string prompt) => new(id, Roles.Assistant, "assistant", "Assistant", id, MessageStatus.Complete, prompt, Now, ParentId: prompt);

    [Fact]
    public void A_message_brought_back_after_its_children_is_their_parent_again_and_a_parent_that_lost_a_child_does_not_count_siblings()
    {
        var tree = new MessageTree();
        tree.Add(Prompt("p", null), 1);
        tree.Add(Reply("r1", "p"), 2);
        tree.Add(Reply("r2", "p"), 3);
        Assert.Equal(1, tree.SiblingPosition("r2"));

        tree.Remove("r1");
        var afterEviction = tree.SiblingPosition("r2");
        tree.Remove("p");
        var cut = tree.PathTo("r2");
        tree.Add(Prompt("p", null), 1, isNew: false);
        tree.Add(Reply("r1", "p"), 2, isNew: false);

        Assert.Null(afterEviction);
        Assert.Equal(["r2"], cut);
        Assert.Equal(["p", "r2"], tree.PathTo("r2"));
        Assert.Equal(["r1", "r2"], tree.Children("p"));
        Assert.Equal(["p"], tree.Children(null));
        Assert.Null(tree.SiblingPosition("r2"));
        Assert.Equal(3, tree.Count);
    }
}
