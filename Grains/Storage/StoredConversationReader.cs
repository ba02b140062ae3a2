using System.Data.Common;

namespace ChatGrains.Storage;

/// <summary>
/// Reads what <see cref="IConversationStore.LoadAsync"/> queries, in this order and column
/// layout: the conversation row (title, owner, created, last event id, last activity, first
/// stored event id, head), then its members (user, name, role, joined event id), messages (parent id,
/// then who pays for a reply, last), invites
/// (token, creator, created, expires, max uses, uses, revoked) and idempotency keys (newest first,
/// at most <c>recentKeys + 1</c> of them when loading a window: the extra one tells that some were
/// left out). The conversation row ends with the first message's created event id. Both stores
/// return that layout; they differ only in how a time is kept, which <c>time</c> reads.
/// </summary>
internal static class StoredConversationReader
{
    public static async Task<StoredConversation?> ReadAsync(
        DbDataReader reader, string conversationId, Func<DbDataReader, int, DateTimeOffset> time, int? recentKeys, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var info = new ConversationInfo(conversationId, reader.GetString(0), reader.GetString(1), time(reader, 2));
        var lastEventId = reader.GetInt64(3);
        var lastActivityAt = time(reader, 4);
        var firstStoredEventId = reader.IsDBNull(5) ? lastEventId + 1 : reader.GetInt64(5);
        var head = NullableString(reader, 6);
        var firstMessageEventId = reader.IsDBNull(7) ? 0 : reader.GetInt64(7);

        await reader.NextResultAsync(cancellationToken);
        var members = new List<StoredMember>();
        while (await reader.ReadAsync(cancellationToken))
            members.Add(new StoredMember(new Member(reader.GetString(0), reader.GetString(1), reader.GetString(2)), reader.GetInt64(3)));

        await reader.NextResultAsync(cancellationToken);
        var messages = await ReadMessagesAsync(reader, time, cancellationToken);

        await reader.NextResultAsync(cancellationToken);
        var invites = new List<Invite>();
        while (await reader.ReadAsync(cancellationToken))
        {
            invites.Add(new Invite(reader.GetString(0), reader.GetString(1), time(reader, 2),
                reader.IsDBNull(3) ? null : time(reader, 3), reader.IsDBNull(4) ? null : reader.GetInt32(4),
                reader.GetInt32(5), reader.GetBoolean(6)));
        }

        await reader.NextResultAsync(cancellationToken);
        var keys = new List<IdempotencyRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Key(reader, time));
        }
        var allKeys = recentKeys is not { } max || keys.Count <= max;
        if (!allKeys) keys.RemoveRange(recentKeys!.Value, keys.Count - recentKeys.Value);
        keys.Reverse();

        return new StoredConversation(info, members, messages, invites, keys, lastEventId, lastActivityAt, firstStoredEventId, head,
            firstMessageEventId, allKeys);
    }

    /// <summary>
    /// Message rows in the column layout above (id, role, author, author name, content, status,
    /// reply to, created, error, created event id, completed event id, prompt and completion
    /// tokens, parent id, requested by).
    /// </summary>
    public static async Task<List<StoredMessage>> ReadMessagesAsync(
        DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> time, CancellationToken cancellationToken)
    {
        var messages = new List<StoredMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var message = new Message(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), NullableString(reader, 6), time(reader, 7), NullableString(reader, 8),
                UsageOf(reader.IsDBNull(11) ? null : reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetInt32(12)),
                NullableString(reader, 13));
            messages.Add(new StoredMessage(message, reader.GetInt64(9), reader.GetInt64(10), NullableString(reader, 14)));
        }
        return messages;
    }

    /// <summary>A key row: user, key, content hash, user message, assistant message, event id, created.</summary>
    public static IdempotencyRecord Key(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> time) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2),
            new PostReceiptIds(reader.GetString(3), reader.GetString(4), reader.GetInt64(5)), time(reader, 6));

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static Usage? UsageOf(int? promptTokens, int? completionTokens) =>
        promptTokens is null && completionTokens is null ? null : new Usage(promptTokens ?? 0, completionTokens ?? 0);
}
