using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The SQLite writer's statements, prepared once on its connection and reused for every commit,
/// and how a commit runs them (<see cref="Apply"/>).
/// </summary>
internal sealed partial class SqliteWriteStatements(SqliteConnection connection) : IDisposable
{
    private Statement InsertConversation { get; } = new(connection, """
        INSERT INTO conversations (id, title, owner_id, created_at, last_activity_at, last_event_id)
        VALUES ($id, $title, $owner, $created, $activity, $last)
        """);
    private Statement UpdateConversation { get; } = new(connection,
        "UPDATE conversations SET last_event_id = $last, last_activity_at = $activity, title = coalesce($title, title) WHERE id = $id");
    private Statement InsertEvent { get; } = new(connection,
        "INSERT INTO events (conversation_id, id, type, data) VALUES ($c, $id, $type, $data)");
    private Statement InsertMember { get; } = new(connection, """
        INSERT OR IGNORE INTO members (conversation_id, user_id, name, joined_at, role, joined_event_id)
        VALUES ($c, $user, $name, $joined, $role, $joined_event)
        """);
    private Statement DeleteMember { get; } = new(connection,
        "DELETE FROM members WHERE conversation_id = $c AND user_id = $user");
    private Statement UpsertMessage { get; } = new(connection, """
        INSERT INTO messages (conversation_id, id, created_event_id, completed_event_id, role, author_id,
                              author_name, content, status, reply_to, created_at, error, prompt_tokens, completion_tokens,
                              parent_id, requested_by)
        VALUES ($c, $id, $created_event, $completed_event, $role, $author, $author_name, $content, $status,
                $reply_to, $created_at, $error, $prompt_tokens, $completion_tokens, $parent_id, $requested_by)
        ON CONFLICT (conversation_id, id) DO UPDATE SET
            created_event_id = excluded.created_event_id, completed_event_id = excluded.completed_event_id,
            role = excluded.role, author_id = excluded.author_id, author_name = excluded.author_name,
            content = excluded.content, status = excluded.status, reply_to = excluded.reply_to,
            created_at = excluded.created_at, error = excluded.error,
            prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
            parent_id = excluded.parent_id, requested_by = excluded.requested_by
        """);
    // A reply is charged once: a second charge for it changes nothing.
    private Statement InsertCharge { get; } = new(connection, """
        INSERT INTO usage_charges (reply_id, user_id, day, conversation_id, prompt_tokens, completion_tokens)
        VALUES ($reply, $user, $day, $c, $prompt, $completion)
        ON CONFLICT (reply_id) DO NOTHING
        """);
    private Statement SetHead { get; } = new(connection,
        "UPDATE conversations SET head_message_id = $head WHERE id = $id");
    private Statement UpsertInvite { get; } = new(connection, """
        INSERT INTO invites (conversation_id, token, created_by, created_at, expires_at, max_uses, uses, revoked)
        VALUES ($c, $token, $by, $at, $expires, $max_uses, $uses, $revoked)
        ON CONFLICT (conversation_id, token) DO UPDATE SET uses = excluded.uses, revoked = excluded.revoked
        """);
    private Statement InsertKey { get; } = new(connection, """
        INSERT INTO idempotency_keys (conversation_id, user_id, key, content_hash, user_message_id,
                                      assistant_message_id, event_id, created_at)
        VALUES ($c, $user, $key, $hash, $user_message, $assistant_message, $event, $created)
        """);
    private Statement PruneKeys { get; } = new(connection,
        "DELETE FROM idempotency_keys WHERE conversation_id = $c AND created_at < $before");
    private Statement PruneEvents { get; } = new(connection,
        "DELETE FROM events WHERE conversation_id = $c AND id < $before");
    // Every table that holds a row of a conversation.
    private Statement DeleteConversation { get; } = new(connection, """
        DELETE FROM events WHERE conversation_id = $c;
        DELETE FROM messages WHERE conversation_id = $c;
        DELETE FROM members WHERE conversation_id = $c;
        DELETE FROM invites WHERE conversation_id = $c;
        DELETE FROM idempotency_keys WHERE conversation_id = $c;
        DELETE FROM conversations WHERE id = $c;
        """);

    /// <summary>Runs the commit's statements, in the writer's current transaction.</summary>
    public void Apply(ConversationCommit commit)
    {
        var id = commit.ConversationId;
        var lastActivityAt = ToText(commit.LastActivityAt);
        if (commit.Created is { } info)
        {
            InsertConversation.Execute(id, info.Title, info.OwnerId, ToText(info.CreatedAt), lastActivityAt, commit.LastEventId);
        }
        else if (UpdateConversation.Execute(commit.LastEventId, lastActivityAt, commit.Title, id) == 0)
        {
            throw new InvalidOperationException($"Conversation '{id}' does not exist; its first commit must set Created.");
        }

        // A plain INSERT: a duplicate (conversation, id) throws and fails the whole commit.
        foreach (var e in commit.Events) InsertEvent.Execute(id, e.Id, e.Type, e.Data);
        foreach (var (m, joinedEventId) in commit.Members) InsertMember.Execute(id, m.UserId, m.Name, lastActivityAt, m.Role, joinedEventId);
        foreach (var userId in commit.RemovedMemberIds) DeleteMember.Execute(id, userId);
        foreach (var (m, createdEventId, completedEventId, requestedBy) in commit.Messages)
        {
            UpsertMessage.Execute(id, m.Id, createdEventId, completedEventId, m.Role, m.AuthorId, m.AuthorName,
                m.Content, m.Status, m.ReplyTo, ToText(m.CreatedAt), m.Error, m.Usage?.PromptTokens, m.Usage?.CompletionTokens,
                m.ParentId, requestedBy);
        }
        // Before a delete in the same commit: charges are the user's and outlive the conversation.
        foreach (var c in commit.UsageCharges)
        {
            InsertCharge.Execute(c.ReplyId, c.UserId, c.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), c.ConversationId,
                c.Usage.PromptTokens, c.Usage.CompletionTokens);
        }
        if (commit.Head is { } head) SetHead.Execute(head, id);
        foreach (var i in commit.Invites)
        {
            UpsertInvite.Execute(id, i.Token, i.CreatedBy, ToText(i.CreatedAt),
                i.ExpiresAt is { } expires ? ToText(expires) : null, i.MaxUses, i.Uses, i.Revoked ? 1 : 0);
        }
        // Expired keys go before new ones are stored: a key used again after its retention is new.
        if (commit.PruneKeysBefore is { } keysBefore) PruneKeys.Execute(id, ToText(keysBefore));
        foreach (var k in commit.IdempotencyKeys)
        {
            InsertKey.Execute(id, k.UserId, k.Key, k.ContentHash,
                k.Exchange.UserMessageId, k.Exchange.AssistantMessageId, k.Exchange.EventId, ToText(k.CreatedAt));
        }
        if (commit.PruneEventsBefore > 0) PruneEvents.Execute(id, commit.PruneEventsBefore);
        if (commit.Delete) DeleteConversation.Execute(id);
    }

    private IEnumerable<Statement> All =>
        [InsertConversation, UpdateConversation, InsertEvent, InsertMember, DeleteMember, UpsertMessage, InsertCharge, SetHead, UpsertInvite, PruneKeys, InsertKey, PruneEvents, DeleteConversation];

    public void Enlist(SqliteTransaction transaction)
    {
        foreach (var statement in All) statement.Command.Transaction = transaction;
    }

    public void Dispose()
    {
        foreach (var statement in All) statement.Command.Dispose();
    }

    private static string ToText(DateTimeOffset time) => SqliteConversationStore.ToText(time);

    /// <summary>
    /// A prepared command whose parameters are bound by position: the values given to
    /// <see cref="Execute"/> match the <c>$names</c> in the order they first appear in the SQL.
    /// </summary>
    private sealed class Statement
    {
        public SqliteCommand Command { get; }

        public Statement(SqliteConnection connection, string sql)
        {
            Command = connection.CreateCommand();
            Command.CommandText = sql;
            foreach (var name in ParameterName().Matches(sql).Select(m => m.Value).Distinct())
                Command.Parameters.Add(new SqliteParameter { ParameterName = name });
            Command.Prepare();
        }

        public int Execute(params object?[] values)
        {
            if (values.Length != Command.Parameters.Count)
                throw new ArgumentException($"Expected {Command.Parameters.Count} values for: {Command.CommandText}");
            for (var i = 0; i < values.Length; i++) Command.Parameters[i].Value = values[i] ?? DBNull.Value;
            return Command.ExecuteNonQuery();
        }
    }

    [GeneratedRegex(@"\$\w+")]
    private static partial Regex ParameterName();
}
