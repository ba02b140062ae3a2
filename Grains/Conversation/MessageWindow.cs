using ChatGrains.Storage;

namespace ChatGrains.Conversation;

/// <summary>
/// The part of a long conversation the grain does not hold, read from the store when a turn
/// needs it: a message named by a request (a parent, a head, a message to regenerate, fork or
/// cancel), the model's path, a reply's position among its siblings, pages of the history, and
/// idempotency keys the grain let go. <see cref="ConversationState"/> holds a window (see
/// <see cref="ConversationState.Trim"/>) and lets go only of messages whose rows are committed and
/// final, so a stored row of a message the grain does not hold is current; for one it does hold,
/// the held copy (with the text a reply has streamed so far) is the truth and wins.
/// </summary>
public sealed class MessageWindow(IConversationStore store, string conversationId)
{
    /// <summary>
    /// Holds <paramref name="messageId"/> for this turn when it is stored but not held; an unknown
    /// one stays unknown, and the state's own checks answer NotFound.
    /// </summary>
    public async Task HoldAsync(ConversationState state, string messageId)
    {
        if (state.FindMessage(messageId) is not null) return;
        if (await store.ReadMessageAsync(conversationId, messageId) is { } stored) state.Hold(stored);
    }

    /// <summary>
    /// The messages from the first prompt down to <paramref name="messageId"/>, both included: as
    /// far up as the grain holds them, the rest by a recursive query on the parent ids.
    /// </summary>
    public async Task<IReadOnlyList<Message>> PathToAsync(ConversationState state, string messageId)
    {
        var held = state.Tree.PathTo(messageId);
        var missing = held.Count == 0 ? messageId : state.Tree.Parent(held[0]);
        if (missing is null) return state.PathTo(messageId);
        var older = await store.ReadPathAsync(conversationId, missing);
        return [.. older.Select(m => Current(state, m).Message), .. held.Select(id => state.FindMessage(id)!.Message)];
    }

    /// <summary>How many replies to the same prompt came before <paramref name="replyId"/> (a held reply).</summary>
    public async Task<int> SiblingPositionAsync(ConversationState state, string replyId)
    {
        if (state.Tree.SiblingPosition(replyId) is { } known) return known;
        var reply = state.FindMessage(replyId)!;
        var parent = MessageTree.ParentOf(reply.Message)!;
        var siblings = (await store.ReadChildrenAsync(conversationId, parent)).ToDictionary(m => m.Message.Id);
        foreach (var id in state.Tree.Children(parent)) siblings[id] = state.FindMessage(id)!;
        return siblings.Values.Count(m => m.Message.Role == Roles.Assistant && m.CreatedEventId < reply.CreatedEventId);
    }

    /// <summary>
    /// What a reply is generated from: the path to its prompt and its position among its siblings;
    /// null when the store cannot be read now (the store has logged why).
    /// </summary>
    public async Task<(IReadOnlyList<Message> Path, int Sibling)?> ReplyInputAsync(ConversationState state, StoredMessage reply)
    {
        try
        {
            return (await PathToAsync(state, reply.Message.ReplyTo!), await SiblingPositionAsync(state, reply.Message.Id));
        }
        catch (ConversationException ex) when (ex.Kind == ConversationErrorKind.StoreUnavailable)
        {
            return null;
        }
    }

    /// <summary>The page before <paramref name="beforeMessageId"/> (null: the latest); an unknown message is NotFound.</summary>
    public async Task<MessagePage> PageBeforeAsync(ConversationState state, string? beforeMessageId, int limit)
    {
        var before = beforeMessageId is null ? long.MaxValue
            : (state.FindMessage(beforeMessageId) ?? await store.ReadMessageAsync(conversationId, beforeMessageId))?.CreatedEventId
              ?? throw ConversationException.NotFound("The message");
        return await PageAsync(state, before, limit);
    }

    /// <summary>
    /// The latest <paramref name="limit"/> messages created before event <paramref name="beforeEventId"/>,
    /// in event order: from the window, then (when it does not reach back far enough) from the store.
    /// The page is consistent with the state's last event id: held messages are current, and every
    /// other one is final.
    /// </summary>
    public async Task<MessagePage> PageAsync(ConversationState state, long beforeEventId, int limit)
    {
        var page = state.WindowBefore(beforeEventId, limit);
        // The window holds every message from WindowStart on, so what is missing is older than that.
        var olderThan = Math.Min(beforeEventId, state.WindowStart);
        if (page.Count < limit && state.FirstMessageEventId > 0 && olderThan > state.FirstMessageEventId)
        {
            var older = await store.ReadMessagesBeforeAsync(conversationId, olderThan, limit - page.Count);
            page.InsertRange(0, older.Select(m => Current(state, m)));
        }
        var hasMore = page.Count > 0 && page[0].CreatedEventId > state.FirstMessageEventId;
        return new MessagePage([.. page.Select(m => m.Message)], hasMore);
    }

    /// <summary>The snapshot with the latest <paramref name="limit"/> messages.</summary>
    public async Task<ConversationSnapshot> SnapshotAsync(ConversationState state, int limit)
    {
        var page = await PageAsync(state, long.MaxValue, limit);
        return state.ToSnapshot(page.Messages, page.HasMore);
    }

    /// <summary>
    /// The exchange a repeated idempotency key names, if it was stored at or after
    /// <paramref name="since"/> (held, or, only when the grain let some recent keys go, from the
    /// store); its reply is held, for its completion's event id. A key of another request is 422.
    /// </summary>
    public async Task<PostReceiptIds?> KnownExchangeAsync(ConversationState state, string userId, string key, string hash, DateTimeOffset since)
    {
        var known = state.FindKey(userId, key, since) ?? (state.HoldsAllRecentKeys ? null : await store.ReadKeyAsync(conversationId, userId, key, since));
        if (known is null) return null;
        if (known.ContentHash != hash)
            throw new ConversationException(ConversationErrorKind.IdempotencyKeyReused, "This Idempotency-Key was already used for a different request.");
        await HoldAsync(state, known.Exchange.AssistantMessageId);
        return known.Exchange;
    }

    /// <summary>
    /// The text a reply streamed before its activation died, from its stored deltas. A stored
    /// event that cannot be parsed is reported to <paramref name="poison"/>, and replay starts
    /// after it; the reply then ends with the text that can still be read.
    /// </summary>
    public async Task<string> ReadStreamedTextAsync(ConversationState state, StoredMessage reply, Action<ConversationEvent> poison, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        var after = reply.CreatedEventId;
        while (true)
        {
            var page = await store.ReadEventsAsync(conversationId, after, 1000, cancellationToken);
            if (page.Count == 0) return text.ToString();
            foreach (var e in page)
            {
                if (!StoredEvent.IsWellFormed(e))
                {
                    poison(e);
                    state.StartReplayAfter(e.Id);
                    continue;
                }
                if (e.Type == EventTypes.MessageDelta
                    && System.Text.Json.JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageDeltaData) is { } d
                    && d.MessageId == reply.Message.Id)
                {
                    text.Append(d.Delta);
                }
            }
            after = page[^1].Id;
        }
    }

    private static StoredMessage Current(ConversationState state, StoredMessage stored) => state.FindMessage(stored.Message.Id) ?? stored;
}
