using Microsoft.Data.Sqlite;

namespace ChatGrains.Storage;

/// <summary>
/// The SQLite schema as numbered migrations. <c>PRAGMA user_version</c> records how many have
/// been applied, so the list is append-only: never edit a migration that has shipped, add the
/// next one instead.
/// </summary>
internal static class SqliteSchema
{
    private static readonly string[] Migrations =
    [
        // 1: the initial schema. Times are UTC ISO-8601 text (see SqliteConversationStore.ToText).
        """
        CREATE TABLE conversations (
            id               TEXT NOT NULL PRIMARY KEY,
            title            TEXT NOT NULL,
            owner_id         TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            last_activity_at TEXT NOT NULL,
            last_event_id    INTEGER NOT NULL
        ) STRICT;

        -- A rowid table on purpose: rowid order is join order.
        CREATE TABLE members (
            conversation_id TEXT NOT NULL,
            user_id         TEXT NOT NULL,
            name            TEXT NOT NULL,
            joined_at       TEXT NOT NULL,
            PRIMARY KEY (conversation_id, user_id)
        ) STRICT;
        CREATE INDEX members_by_user ON members (user_id, conversation_id);

        CREATE TABLE messages (
            conversation_id    TEXT NOT NULL,
            id                 TEXT NOT NULL,
            created_event_id   INTEGER NOT NULL,
            completed_event_id INTEGER NOT NULL,
            role               TEXT NOT NULL,
            author_id          TEXT NOT NULL,
            author_name        TEXT NOT NULL,
            content            TEXT NOT NULL,
            status             TEXT NOT NULL,
            reply_to           TEXT,
            created_at         TEXT NOT NULL,
            error              TEXT,
            PRIMARY KEY (conversation_id, id)
        ) STRICT;

        -- The primary key is the final guard that an event id is never used twice.
        CREATE TABLE events (
            conversation_id TEXT NOT NULL,
            id              INTEGER NOT NULL,
            type            TEXT NOT NULL,
            data            TEXT NOT NULL,
            PRIMARY KEY (conversation_id, id)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE invites (
            conversation_id TEXT NOT NULL,
            token           TEXT NOT NULL,
            created_by      TEXT NOT NULL,
            created_at      TEXT NOT NULL,
            PRIMARY KEY (conversation_id, token)
        ) STRICT;

        CREATE TABLE idempotency_keys (
            conversation_id      TEXT NOT NULL,
            user_id              TEXT NOT NULL,
            key                  TEXT NOT NULL,
            content_hash         TEXT NOT NULL,
            user_message_id      TEXT NOT NULL,
            assistant_message_id TEXT NOT NULL,
            event_id             INTEGER NOT NULL,
            PRIMARY KEY (conversation_id, user_id, key)
        ) STRICT;
        """,

        // 2: the tokens an assistant reply cost (both NULL when unknown).
        """
        ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER;
        ALTER TABLE messages ADD COLUMN completion_tokens INTEGER;
        """,

        // 3: roles, where each member's history starts, and invites with limits. Existing rows:
        // the owner is the member whose id is the conversation's owner_id; a member's start is
        // their member.joined if it is still stored (else 0), found by text so that a poison
        // event cannot fail the migration; invites had no limits and no uses.
        """
        ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
        ALTER TABLE members ADD COLUMN joined_event_id INTEGER NOT NULL DEFAULT 0;
        UPDATE members SET role = 'owner'
         WHERE user_id = (SELECT c.owner_id FROM conversations c WHERE c.id = members.conversation_id);
        UPDATE members SET joined_event_id = coalesce((
            SELECT max(e.id) FROM events e
             WHERE e.conversation_id = members.conversation_id AND e.type = 'member.joined'
               AND instr(e.data, '"userId":' || json_quote(members.user_id)) > 0), 0)
         WHERE role = 'member';

        ALTER TABLE invites ADD COLUMN expires_at TEXT;
        ALTER TABLE invites ADD COLUMN max_uses INTEGER;
        ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE invites ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;
        """,

        // 4: the users' own data (read positions, their event log, and the list as that log
        // described it), and an index for counting a conversation's messages after a read position.
        """
        CREATE TABLE read_positions (
            user_id            TEXT NOT NULL,
            conversation_id    TEXT NOT NULL,
            last_read_event_id INTEGER NOT NULL,
            PRIMARY KEY (user_id, conversation_id)
        ) STRICT, WITHOUT ROWID;

        -- The primary key is the final guard that a user's event id is never used twice.
        CREATE TABLE user_events (
            user_id TEXT NOT NULL,
            id      INTEGER NOT NULL,
            type    TEXT NOT NULL,
            data    TEXT NOT NULL,
            PRIMARY KEY (user_id, id)
        ) STRICT, WITHOUT ROWID;

        -- item: the list item's JSON as the user's latest event about it carried it.
        CREATE TABLE user_list (
            user_id         TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            item            TEXT NOT NULL,
            PRIMARY KEY (user_id, conversation_id)
        ) STRICT;

        CREATE INDEX messages_by_event ON messages (conversation_id, created_event_id);
        CREATE INDEX messages_by_author ON messages (conversation_id, author_id, created_event_id);
        """,

        // 5: messages as a tree. Existing conversations were one thread: an assistant message
        // follows the prompt it replies to, a prompt follows the message stored before it, and
        // the head is the last assistant message.
        """
        ALTER TABLE messages ADD COLUMN parent_id TEXT;
        UPDATE messages SET parent_id = CASE
            WHEN role = 'assistant' THEN reply_to
            ELSE (SELECT p.id FROM messages p
                   WHERE p.conversation_id = messages.conversation_id
                     AND (p.created_event_id < messages.created_event_id
                          OR (p.created_event_id = messages.created_event_id AND p.rowid < messages.rowid))
                   ORDER BY p.created_event_id DESC, p.rowid DESC LIMIT 1)
        END;
        ALTER TABLE conversations ADD COLUMN head_message_id TEXT;
        UPDATE conversations SET head_message_id = (
            SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id AND m.role = 'assistant'
             ORDER BY m.created_event_id DESC, m.rowid DESC LIMIT 1);
        """,

        // 6: token budgets. requested_by: who pays for an assistant reply (the poster of its
        // prompt; existing replies: their prompt's author). usage_charges: one row per reply that
        // ended with a known usage, written in the commit of its message.completed, keyed by the
        // reply so it is charged at most once; day is the UTC day it ended (yyyy-MM-dd). Rows are
        // the user's, not the conversation's: deleting a conversation keeps them.
        """
        ALTER TABLE messages ADD COLUMN requested_by TEXT;
        UPDATE messages SET requested_by = (
            SELECT p.author_id FROM messages p WHERE p.conversation_id = messages.conversation_id AND p.id = messages.reply_to)
         WHERE role = 'assistant';

        CREATE TABLE usage_charges (
            reply_id          TEXT NOT NULL PRIMARY KEY,
            user_id           TEXT NOT NULL,
            day               TEXT NOT NULL,
            conversation_id   TEXT NOT NULL,
            prompt_tokens     INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX usage_charges_by_day ON usage_charges (user_id, day, prompt_tokens, completion_tokens);
        """,

        // 7: long conversations. An activation loads only a window of messages and reads the rest
        // when needed: its open replies (a partial index), a message's children (regenerate's
        // sibling position), and idempotency keys by age, since they are kept for a retention
        // period (created_at; keys stored before this migration count from the migration).
        """
        ALTER TABLE idempotency_keys ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
        UPDATE idempotency_keys SET created_at = strftime('%Y-%m-%dT%H:%M:%f', 'now') || '0000Z';
        CREATE INDEX idempotency_keys_by_age ON idempotency_keys (conversation_id, created_at);
        CREATE INDEX messages_open ON messages (conversation_id) WHERE status IN ('queued', 'streaming');
        CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, created_event_id);
        """,
    ];

    /// <summary>Sets the connection up for one writer and many readers, then migrates.</summary>
    public static void Apply(SqliteConnection connection, SqliteSynchronous synchronous)
    {
        // WAL lets readers run beside the writer. synchronous is per connection, and only the
        // writer's matters: FULL syncs the log at every commit (one fsync per group commit).
        Execute(connection, null, $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(int)synchronous}; PRAGMA busy_timeout = 5000;");

        // The version is read inside the write transaction, so two processes starting at
        // once cannot both apply the same migration.
        using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(Scalar(connection, transaction, "PRAGMA user_version;"));
        if (version > Migrations.Length)
        {
            throw new InvalidOperationException(
                $"The database is at schema version {version}, newer than this build knows ({Migrations.Length}).");
        }

        for (var i = version; i < Migrations.Length; i++)
        {
            // user_version lives in the file header and is part of the transaction.
            Execute(connection, transaction, $"{Migrations[i]}\nPRAGMA user_version = {i + 1};");
        }

        transaction.Commit();
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        return command.ExecuteScalar();
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
