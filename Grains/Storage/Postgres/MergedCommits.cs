using Npgsql;

namespace ChatGrains.Storage;

/// <summary>
/// Several commits' rows as one column array per table column, so a transaction is at most
/// a dozen statements however many commits it carries. The result is the same as applying the
/// commits one after another: a conversation row gets its last commit's head, a message row
/// its last version (in the position it was first written), members already there are kept,
/// and a deleted conversation's rows are removed last.
/// </summary>
internal sealed class MergedCommits
{
    private readonly Dictionary<string, ConversationHead> _conversations = new(StringComparer.Ordinal);
    private readonly List<(string Conversation, ConversationEvent Event)> _events = [];
    private readonly Dictionary<string, long> _prunes = new(StringComparer.Ordinal);
    private readonly List<(string Conversation, StoredMember Member, DateTimeOffset JoinedAt)> _members = [];
    private readonly List<(string Conversation, string UserId)> _removedMembers = [];
    private readonly HashSet<(string, string)> _memberChanges = [];
    private readonly List<(string Conversation, StoredMessage Message)> _messages = [];
    private readonly Dictionary<(string, string), int> _messageIndex = [];
    private readonly List<(string Conversation, Invite Invite)> _invites = [];
    private readonly Dictionary<(string, string), int> _inviteIndex = [];
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private readonly List<(string Conversation, IdempotencyRecord Key)> _keys = [];
    private readonly Dictionary<string, DateTimeOffset> _keyPrunes = new(StringComparer.Ordinal);
    private readonly List<UsageCharge> _charges = [];

    /// <summary>The conversations that must already exist (none of this batch's commits creates them).</summary>
    public List<string> UpdatedConversations { get; } = [];

    /// <summary>
    /// Merges the commits, or returns false when merging would not match applying them in
    /// order: a commit that creates a conversation an earlier commit of the batch wrote to
    /// (alone, one of the two would fail), or events below an id that an earlier commit
    /// pruned (alone, they would be kept). A single commit always merges.
    /// </summary>
    public static bool TryMerge(IEnumerable<ConversationCommit> commits, out MergedCommits merged)
    {
        merged = new MergedCommits();
        foreach (var commit in commits)
        {
            if (!merged.Add(commit)) return false;
        }
        return true;
    }

    private bool Add(ConversationCommit commit)
    {
        var id = commit.ConversationId;
        // Rows are inserted before removed ones are deleted: a member who leaves and joins
        // again within one batch would lose their row, so such commits are written alone.
        var memberChanges = commit.Members.Select(m => (id, m.Member.UserId)).Concat(commit.RemovedMemberIds.Select(u => (id, u))).ToList();
        if (memberChanges.Any(_memberChanges.Contains)) return false;
        _memberChanges.UnionWith(memberChanges);
        if (_conversations.TryGetValue(id, out var head))
        {
            if (commit.Created is not null || _deleted.Contains(id)) return false;
            if (_prunes.TryGetValue(id, out var pruned) && commit.Events.Any(e => e.Id < pruned)) return false;
        }
        else
        {
            head = new ConversationHead(commit.Created);
            _conversations.Add(id, head);
            if (commit.Created is null) UpdatedConversations.Add(id);
        }
        head.LastEventId = commit.LastEventId;
        head.LastActivityAt = commit.LastActivityAt;
        if (commit.Title is not null) head.Title = commit.Title;
        if (commit.Head is not null) head.HeadMessageId = commit.Head;
        if (commit.Delete) _deleted.Add(id);

        foreach (var e in commit.Events) _events.Add((id, e));
        foreach (var m in commit.Members) _members.Add((id, m, commit.LastActivityAt));
        foreach (var u in commit.RemovedMemberIds) _removedMembers.Add((id, u));
        foreach (var m in commit.Messages)
        {
            if (_messageIndex.TryGetValue((id, m.Message.Id), out var i)) _messages[i] = (id, m);
            else
            {
                _messageIndex.Add((id, m.Message.Id), _messages.Count);
                _messages.Add((id, m));
            }
        }
        // One row per invite: its last version (ON CONFLICT cannot touch a row twice).
        foreach (var i in commit.Invites)
        {
            if (_inviteIndex.TryGetValue((id, i.Token), out var n)) _invites[n] = (id, i);
            else
            {
                _inviteIndex.Add((id, i.Token), _invites.Count);
                _invites.Add((id, i));
            }
        }
        foreach (var k in commit.IdempotencyKeys) _keys.Add((id, k));
        if (commit.PruneKeysBefore is { } keysBefore)
            _keyPrunes[id] = _keyPrunes.TryGetValue(id, out var earlier) && earlier > keysBefore ? earlier : keysBefore;
        _charges.AddRange(commit.UsageCharges);
        if (commit.PruneEventsBefore > 0)
            _prunes[id] = Math.Max(commit.PruneEventsBefore, _prunes.GetValueOrDefault(id));
        return true;
    }

    /// <summary>Adds the statements that have rows to write; returns the conversation update, if any.</summary>
    public NpgsqlBatchCommand? AddStatements(NpgsqlBatch batch)
    {
        var created = _conversations.Where(c => c.Value.Created is not null).ToList();
        if (created.Count > 0)
        {
            Add(batch, """
                INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id, head_message_id)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::text[])
                """,
                Column(created, c => c.Key), Column(created, c => c.Value.Title ?? c.Value.Created!.Title),
                Column(created, c => c.Value.Created!.OwnerId), Column(created, c => Utc(c.Value.Created!.CreatedAt)),
                Column(created, c => Utc(c.Value.LastActivityAt)), Column(created, c => c.Value.LastEventId),
                Column(created, c => c.Value.HeadMessageId));
        }

        NpgsqlBatchCommand? update = null;
        if (UpdatedConversations.Count > 0)
        {
            var heads = UpdatedConversations.Select(id => _conversations[id]).ToList();
            update = Add(batch, """
                UPDATE conversations c SET last_event_id = u.last_event_id, last_activity_at = u.last_activity_at,
                                           title = coalesce(u.title, c.title),
                                           head_message_id = coalesce(u.head, c.head_message_id)
                  FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[])
                       AS u(id, last_event_id, last_activity_at, title, head)
                 WHERE c.id = u.id
                """,
                UpdatedConversations.ToArray(), Column(heads, h => h.LastEventId), Column(heads, h => Utc(h.LastActivityAt)),
                Column(heads, h => h.Title), Column(heads, h => h.HeadMessageId));
        }

        // A plain INSERT: a duplicate (conversation, id) throws and fails the whole transaction.
        if (_events.Count > 0)
        {
            Add(batch, """
                INSERT INTO events (conversation_id, id, type, data)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
                """,
                Column(_events, e => e.Conversation), Column(_events, e => e.Event.Id),
                Column(_events, e => e.Event.Type), Column(_events, e => e.Event.Data));
        }

        // After the inserts, as in a commit applied alone.
        if (_prunes.Count > 0)
        {
            var prunes = _prunes.ToList();
            Add(batch, """
                DELETE FROM events e USING unnest($1::text[], $2::bigint[]) AS p(conversation_id, before)
                 WHERE e.conversation_id = p.conversation_id AND e.id < p.before
                """,
                Column(prunes, p => p.Key), Column(prunes, p => p.Value));
        }

        // WITH ORDINALITY ... ORDER BY: rows take their seq (read-back order) in commit order.
        if (_members.Count > 0)
        {
            Add(batch, """
                INSERT INTO members (conversation_id, user_id, name, joined_at, role, joined_event_id)
                SELECT c, u, n, j, r, e
                  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[])
                       WITH ORDINALITY AS m(c, u, n, j, r, e, ord)
                 ORDER BY ord
                ON CONFLICT (conversation_id, user_id) DO NOTHING
                """,
                Column(_members, m => m.Conversation), Column(_members, m => m.Member.Member.UserId),
                Column(_members, m => m.Member.Member.Name), Column(_members, m => Utc(m.JoinedAt)),
                Column(_members, m => m.Member.Member.Role), Column(_members, m => m.Member.JoinedEventId));
        }

        if (_removedMembers.Count > 0)
        {
            Add(batch, """
                DELETE FROM members m USING unnest($1::text[], $2::text[]) AS r(conversation_id, user_id)
                 WHERE m.conversation_id = r.conversation_id AND m.user_id = r.user_id
                """,
                Column(_removedMembers, r => r.Conversation), Column(_removedMembers, r => r.UserId));
        }

        if (_messages.Count > 0)
        {
            Add(batch, """
                INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id,
                                      author_name, content, status, reply_to, created_at, error, prompt_tokens,
                                      completion_tokens, parent_id, requested_by)
                SELECT c, i, ce, de, r, a, an, co, s, rt, ca, er, pt, ct, pa, rb
                  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::integer[],
                              $14::integer[], $15::text[], $16::text[])
                       WITH ORDINALITY AS m(c, i, ce, de, r, a, an, co, s, rt, ca, er, pt, ct, pa, rb, ord)
                 ORDER BY ord
                ON CONFLICT (conversation_id, id) DO UPDATE SET
                    created_event_id = excluded.created_event_id, completed_event_id = excluded.completed_event_id,
                    role = excluded.role, author_id = excluded.author_id, author_name = excluded.author_name,
                    content = excluded.content, status = excluded.status, reply_to = excluded.reply_to,
                    created_at = excluded.created_at, error = excluded.error,
                    prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                    parent_id = excluded.parent_id, requested_by = excluded.requested_by
                """,
                Column(_messages, m => m.Conversation), Column(_messages, m => m.Message.Message.Id),
                Column(_messages, m => m.Message.CreatedEventId), Column(_messages, m => m.Message.CompletedEventId),
                Column(_messages, m => m.Message.Message.Role), Column(_messages, m => m.Message.Message.AuthorId),
                Column(_messages, m => m.Message.Message.AuthorName), Column(_messages, m => m.Message.Message.Content),
                Column(_messages, m => m.Message.Message.Status), Column(_messages, m => m.Message.Message.ReplyTo),
                Column(_messages, m => Utc(m.Message.Message.CreatedAt)), Column(_messages, m => m.Message.Message.Error),
                Column(_messages, m => m.Message.Message.Usage?.PromptTokens), Column(_messages, m => m.Message.Message.Usage?.CompletionTokens),
                Column(_messages, m => m.Message.Message.ParentId), Column(_messages, m => m.Message.RequestedBy));
        }

        // Charges are the user's, not the conversation's: the delete below keeps them. A
        // reply is charged once: a second charge for it changes nothing.
        if (_charges.Count > 0)
        {
            Add(batch, """
                INSERT INTO usage_charges (reply_id, user_id, day, conversation_id, prompt_tokens, completion_tokens)
                SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::integer[], $6::integer[])
                ON CONFLICT (reply_id) DO NOTHING
                """,
                Column(_charges, c => c.ReplyId), Column(_charges, c => c.UserId), Column(_charges, c => c.Day),
                Column(_charges, c => c.ConversationId), Column(_charges, c => c.Usage.PromptTokens),
                Column(_charges, c => c.Usage.CompletionTokens));
        }

        if (_invites.Count > 0)
        {
            Add(batch, """
                INSERT INTO invites (conversation_id, token, created_by, created_at, expires_at, max_uses, uses, revoked)
                SELECT c, t, b, a, x, m, u, r
                  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::integer[],
                              $7::integer[], $8::boolean[])
                       WITH ORDINALITY AS i(c, t, b, a, x, m, u, r, ord)
                 ORDER BY ord
                ON CONFLICT (conversation_id, token) DO UPDATE SET uses = excluded.uses, revoked = excluded.revoked
                """,
                Column(_invites, i => i.Conversation), Column(_invites, i => i.Invite.Token),
                Column(_invites, i => i.Invite.CreatedBy), Column(_invites, i => Utc(i.Invite.CreatedAt)),
                Column(_invites, i => i.Invite.ExpiresAt is { } x ? Utc(x) : (DateTime?)null), Column(_invites, i => i.Invite.MaxUses),
                Column(_invites, i => i.Invite.Uses), Column(_invites, i => i.Invite.Revoked));
        }

        // Expired keys go before new ones are stored: a key used again after its retention is new.
        if (_keyPrunes.Count > 0)
        {
            var prunes = _keyPrunes.ToList();
            Add(batch, """
                DELETE FROM idempotency_keys k USING unnest($1::text[], $2::timestamptz[]) AS p(conversation_id, before)
                 WHERE k.conversation_id = p.conversation_id AND k.created_at < p.before
                """,
                Column(prunes, p => p.Key), Column(prunes, p => Utc(p.Value)));
        }

        if (_keys.Count > 0)
        {
            Add(batch, """
                INSERT INTO idempotency_keys (conversation_id, user_id, key, content_hash, user_message_id,
                                              assistant_message_id, event_id, created_at)
                SELECT c, u, k, h, um, am, e, ca
                  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                              $8::timestamptz[])
                       WITH ORDINALITY AS k(c, u, k, h, um, am, e, ca, ord)
                 ORDER BY ord
                """,
                Column(_keys, k => k.Conversation), Column(_keys, k => k.Key.UserId), Column(_keys, k => k.Key.Key),
                Column(_keys, k => k.Key.ContentHash), Column(_keys, k => k.Key.Exchange.UserMessageId),
                Column(_keys, k => k.Key.Exchange.AssistantMessageId), Column(_keys, k => k.Key.Exchange.EventId),
                Column(_keys, k => Utc(k.Key.CreatedAt)));
        }

        // Last: a deleted conversation's rows go, whatever this batch wrote for it.
        if (_deleted.Count > 0)
        {
            // As one object: a string[] alone would be taken as the params array itself.
            object deleted = _deleted.ToArray();
            foreach (var table in new[] { "events", "messages", "members", "invites", "idempotency_keys" })
                Add(batch, $"DELETE FROM {table} WHERE conversation_id = ANY($1::text[])", deleted);
            Add(batch, "DELETE FROM conversations WHERE id = ANY($1::text[])", deleted);
        }

        return update;
    }

    private static NpgsqlBatchCommand Add(NpgsqlBatch batch, string sql, params object[] columns)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var column in columns) command.Parameters.Add(new NpgsqlParameter { Value = column });
        batch.BatchCommands.Add(command);
        return command;
    }

    private static TValue[] Column<TRow, TValue>(List<TRow> rows, Func<TRow, TValue> value)
    {
        var column = new TValue[rows.Count];
        for (var i = 0; i < column.Length; i++) column[i] = value(rows[i]);
        return column;
    }

    // Npgsql writes timestamptz from UTC DateTimes only; PostgreSQL keeps microseconds.
    private static DateTime Utc(DateTimeOffset time) => time.UtcDateTime;

    private sealed class ConversationHead(ConversationInfo? created)
    {
        public ConversationInfo? Created { get; } = created;
        public long LastEventId { get; set; }
        public string? Title { get; set; }
        public string? HeadMessageId { get; set; }
        public DateTimeOffset LastActivityAt { get; set; }
    }
}
