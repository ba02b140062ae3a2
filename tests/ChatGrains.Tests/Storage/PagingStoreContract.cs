using ChatGrains.Storage;

namespace ChatGrains.Tests.Storage;

/// <summary>
/// The store's part of long conversations, on SQLite and PostgreSQL alike: loading a window of
/// messages, reading the rest (a message, a page, a path, children), and idempotency keys by age.
/// </summary>
public abstract partial class ConversationStoreContract<TStore>
{
    // A thread of `count` messages w1..w{count} (odd: prompts, even: replies), created at events 1..count.
    private static List<StoredMessage> Thread(int count, Func<int, string>? status = null)
    {
        var messages = new List<StoredMessage>();
        for (var n = 1; n <= count; n++)
        {
            var parent = n == 1 ? null : $"w{n - 1}";
            var message = n % 2 == 1
                ? UserMessage($"w{n}", $"prompt {n}") with { ParentId = parent }
                : new Message($"w{n}", Roles.Assistant, "assistant", "Assistant", $"reply {n}", status?.Invoke(n) ?? MessageStatus.Complete, parent, T0, ParentId: parent);
            messages.Add(new StoredMessage(message, n, 0));
        }
        return messages;
    }

    private static IEnumerable<string> Ids(IEnumerable<StoredMessage> messages) => messages.Select(m => m.Message.Id);

    private static IEnumerable<string> W(params int[] n) => n.Select(i => $"w{i}");

    [Fact]
    public async Task Paging_a_window_loads_the_latest_messages_the_open_replies_with_their_prompts_and_the_head()
    {
        // w4 is still queued; the head is w2.
        var messages = Thread(20, n => n == 4 ? MessageStatus.Queued : MessageStatus.Complete);
        await _store.CommitAsync(Create("c1", lastEventId: 20) with { Messages = messages, Head = "w2" });

        var window = await _store.LoadAsync("c1", new LoadWindow(5, 10, T0));
        var all = await _store.LoadAsync("c1");

        Assert.Equal(W(2, 3, 4, 16, 17, 18, 19, 20), Ids(window!.Messages));
        Assert.Equal(1, window.FirstMessageEventId);
        Assert.Equal(Ids(messages), Ids(all!.Messages));
        Assert.Equal(messages, all.Messages);
    }

    [Fact]
    public async Task Paging_reads_a_message_a_page_before_an_event_a_path_and_children()
    {
        var messages = Thread(10);
        var branch = new StoredMessage(UserMessage("b5", "edited prompt 5") with { ParentId = "w4" }, 11, 0);
        var branchReply = new StoredMessage(new Message("b6", Roles.Assistant, "assistant", "Assistant", "other", MessageStatus.Complete, "b5", T0, ParentId: "b5"), 12, 0);
        await _store.CommitAsync(Create("c1", lastEventId: 12) with { Messages = [.. messages, branch, branchReply] });

        Assert.Equal(messages[6], await _store.ReadMessageAsync("c1", "w7"));
        Assert.Null(await _store.ReadMessageAsync("c1", "nope"));
        Assert.Null(await _store.ReadMessageAsync("other", "w7"));
        Assert.Equal(W(4, 5, 6), Ids(await _store.ReadMessagesBeforeAsync("c1", 7, 3)));
        Assert.Equal(W(1, 2), Ids(await _store.ReadMessagesBeforeAsync("c1", 3, 10)));
        Assert.Empty(await _store.ReadMessagesBeforeAsync("c1", 1, 10));
        Assert.Equal([.. W(1, 2, 3, 4), "b5", "b6"], Ids(await _store.ReadPathAsync("c1", "b6")));
        Assert.Equal(messages[..7], await _store.ReadPathAsync("c1", "w7"));
        Assert.Empty(await _store.ReadPathAsync("c1", "nope"));
        Assert.Equal([.. W(5), "b5"], Ids(await _store.ReadChildrenAsync("c1", "w4")));
        Assert.Empty(await _store.ReadChildrenAsync("c1", "w10"));
    }

    [Fact]
    public async Task Paging_keys_are_found_by_age_loaded_newest_first_up_to_the_window_and_pruned_before_new_ones()
    {
        IdempotencyRecord Key(string key, int minutes) => new("alice", key, "hash", new PostReceiptIds("w1", "w2", 1), T0.AddMinutes(minutes));
        await _store.CommitAsync(Create("c1", lastEventId: 2) with { Messages = Thread(2), IdempotencyKeys = [Key("k1", 0), Key("k2", 10), Key("k3", 20)] });

        var two = await _store.LoadAsync("c1", new LoadWindow(10, 2, T0));
        var recent = await _store.LoadAsync("c1", new LoadWindow(10, 5, T0.AddMinutes(5)));
        var found = await _store.ReadKeyAsync("c1", "alice", "k1", T0);
        var expired = await _store.ReadKeyAsync("c1", "alice", "k1", T0.AddMinutes(1));
        // k1 is used again once it has expired: the old row goes in the same commit.
        await _store.CommitAsync(Next("c1", lastEventId: 2) with { IdempotencyKeys = [Key("k1", 30)], PruneKeysBefore = T0.AddMinutes(15) });
        var after = await _store.LoadAsync("c1");

        Assert.Equal(["k2", "k3"], two!.IdempotencyKeys.Select(k => k.Key));
        Assert.False(two.AllRecentKeys);
        Assert.Equal(["k2", "k3"], recent!.IdempotencyKeys.Select(k => k.Key));
        Assert.True(recent.AllRecentKeys);
        Assert.Equal(Key("k1", 0), found);
        Assert.Null(expired);
        Assert.Equal([Key("k3", 20), Key("k1", 30)], after!.IdempotencyKeys);
    }
}
