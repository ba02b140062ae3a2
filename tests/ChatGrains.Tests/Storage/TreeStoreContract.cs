using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>The store's part of the message tree (each message's parent, the conversation's head), on SQLite and PostgreSQL alike.</summary>
public abstract partial class ConversationStoreContract<TStore>
{
    private static Message Reply(string id, string prompt, string status = MessageStatus.Complete) =>
        new(id, Roles.Assistant, "assistant", "Assistant", "", status, prompt, T0, ParentId: prompt);

    [Fact]
    public async Task Tree_parents_and_the_head_round_trip_and_a_later_head_replaces_it()
    {
        var branch = UserMessage("m3", "edited") with { ParentId = "m2" };
        await _store.CommitAsync(Create("c1", lastEventId: 3) with
        {
            Events = [Event(1), Event(2), Event(3)],
            Messages = [new StoredMessage(UserMessage("m1", "hello"), 1, 0), new StoredMessage(Reply("m2", "m1"), 2, 0)],
            Head = "m2",
        });
        Assert.Equal("m2", (await _store.LoadAsync("c1"))!.Head);

        // Queued behind a large commit, so the head moves twice within one batch: the last wins.
        var busy = _store.CommitAsync(Next("c1", lastEventId: 2000) with { Events = [.. Enumerable.Range(4, 1997).Select(i => Event(i))] });
        Task[] commits =
        [
            _store.CommitAsync(Next("c1", lastEventId: 2002) with { Events = [Event(2001), Event(2002)], Messages = [new StoredMessage(branch, 2001, 0), new StoredMessage(Reply("m4", "m3"), 2002, 0)], Head = "m4" }),
            _store.CommitAsync(Next("c1", lastEventId: 2003) with { Events = [Event(2003)], Head = "m2" }),
            _store.CommitAsync(Next("c1", lastEventId: 2004) with { Events = [Event(2004)] }),
        ];
        await busy;
        await Task.WhenAll(commits);

        var stored = (await _store.LoadAsync("c1"))!;
        Assert.Equal("m2", stored.Head);
        Assert.Equal([null, "m1", "m2", "m3"], stored.Messages.Select(m => m.Message.ParentId));
    }

    [Fact]
    public async Task Tree_a_conversation_created_with_its_head_keeps_it()
    {
        await _store.CommitAsync(Create("fork", lastEventId: 2) with
        {
            Events = [Event(1), Event(2)],
            Messages = [new StoredMessage(UserMessage("f1", "copied"), 1, 0), new StoredMessage(Reply("f2", "f1"), 2, 2)],
            Head = "f2",
        });

        Assert.Equal("f2", (await _store.LoadAsync("fork"))!.Head);
    }

    [Fact]
    public async Task Tree_a_conversation_without_messages_has_no_head()
    {
        await _store.CommitAsync(Create("empty", lastEventId: 0));

        Assert.Null((await _store.LoadAsync("empty"))!.Head);
    }
}
