using Npgsql;

namespace ChatGrains.Storage;

/// <summary>
/// The PostgreSQL schema as numbered migrations. The <c>schema_version</c> table records each
/// one applied, so the list is append-only: never edit a migration that has shipped, add the
/// next one instead.
/// </summary>
internal static class PostgresSchema
{
    // Any fixed number, the same in every silo: the transaction-scoped advisory lock on it
    // makes silos that start together apply the migrations one after the other.
    private const long MigrationLock = 0x4368_6174_4772_6e73; // "ChatGrns"

    private static readonly string[] Migrations =
    [
        // 1: the initial schema, the same tables as SQLite's. Keys are COLLATE "C" so text
        // compares byte by byte, as in SQLite (a user's list breaks ties on id), and index
        // lookups skip locale rules. The seq columns stand in for SQLite's rowid: insertion
        // order, which is the order members, messages (after their event id), invites and
        // keys are read back in. Times are timestamptz, which keeps microseconds (SQLite keeps
        // ticks).
        """
        CREATE TABLE conversations (
            id               text COLLATE "C" NOT NULL PRIMARY KEY,
            title            text NOT NULL,
            owner_id         text COLLATE "C" NOT NULL,
            created_at       timestamptz NOT NULL,
            last_activity_at timestamptz NOT NULL,
            last_event_id    bigint NOT NULL
        );

        CREATE TABLE members (
            conversation_id text COLLATE "C" NOT NULL,
            user_id         text COLLATE "C" NOT NULL,
            name            text NOT NULL,
            joined_at       timestamptz NOT NULL,
            seq             bigint GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE INDEX members_by_user ON members (user_id, conversation_id);

        CREATE TABLE messages (
            conversation_id    text COLLATE "C" NOT NULL,
            id                 text COLLATE "C" NOT NULL,
            created_event_id   bigint NOT NULL,
            completed_event_id bigint NOT NULL,
            role               text NOT NULL,
            author_id          text NOT NULL,
            author_name        text NOT NULL,
            content            text NOT NULL,
            status             text NOT NULL,
            reply_to           text,
            created_at         timestamptz NOT NULL,
            error              text,
            seq                bigint GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (conversation_id, id)
        );

        -- The primary key is the final guard that an event id is never used twice. data is
        -- text, not jsonb: it is the event's JSON exactly as clients receive it, and jsonb
        -- would reorder its keys.
        CREATE TABLE events (
            conversation_id text COLLATE "C" NOT NULL,
            id              bigint NOT NULL,
            type            text NOT NULL,
            data            text NOT NULL,
            PRIMARY KEY (conversation_id, id)
        );

        CREATE TABLE invites (
            conversation_id text COLLATE "C" NOT NULL,
            token           text COLLATE "C" NOT NULL,
            created_by      text NOT NULL,
            created_at      timestamptz NOT NULL,
            seq             bigint GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (conversation_id, token)
        );

        CREATE TABLE idempotency_keys (
            conversation_id      text COLLATE "C" NOT NULL,
            user_id              text COLLATE "C" NOT NULL,
            key                  text COLLATE "C" NOT NULL,
            content_hash         text NOT NULL,
            user_message_id      text NOT NULL,
            assistant_message_id text NOT NULL,
            event_id             bigint NOT NULL,
            seq                  bigint GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (conversation_id, user_id, key)
        );
        """,

        // 2: the tokens an assistant reply cost (both NULL when unknown).
        """
        ALTER TABLE messages ADD COLUMN prompt_tokens integer, ADD COLUMN completion_tokens integer;
        """,

        // 3: roles, where each member's history starts, and invites with limits, as in SQLite's
        // migration 3 (existing owners from owner_id; a member's start from their stored
        // member.joined, else 0; invites had no limits and no uses).
        """
        ALTER TABLE members ADD COLUMN role text NOT NULL DEFAULT 'member',
                            ADD COLUMN joined_event_id bigint NOT NULL DEFAULT 0;
        UPDATE members m SET role = 'owner' FROM conversations c
         WHERE c.id = m.conversation_id AND m.user_id = c.owner_id;
        UPDATE members m SET joined_event_id = coalesce((
            SELECT max(e.id) FROM events e
             WHERE e.conversation_id = m.conversation_id AND e.type = 'member.joined'
               AND strpos(e.data, '"userId":' || to_json(m.user_id)::text) > 0), 0)
         WHERE m.role = 'member';

        ALTER TABLE invites ADD COLUMN expires_at timestamptz,
                            ADD COLUMN max_uses integer,
                            ADD COLUMN uses integer NOT NULL DEFAULT 0,
                            ADD COLUMN revoked boolean NOT NULL DEFAULT false;
        """,

        // 4: the users' own data (read positions, their event log, and the list as that log
        // described it), and indexes for counting a conversation's messages after a read position.
        """
        CREATE TABLE read_positions (
            user_id            text COLLATE "C" NOT NULL,
            conversation_id    text COLLATE "C" NOT NULL,
            last_read_event_id bigint NOT NULL,
            PRIMARY KEY (user_id, conversation_id)
        );

        -- The primary key is the final guard that a user's event id is never used twice.
        CREATE TABLE user_events (
            user_id text COLLATE "C" NOT NULL,
            id      bigint NOT NULL,
            type    text NOT NULL,
            data    text NOT NULL,
            PRIMARY KEY (user_id, id)
        );

        -- item: the list item's JSON as the user's latest event about it carried it.
        CREATE TABLE user_list (
            user_id         text COLLATE "C" NOT NULL,
            conversation_id text COLLATE "C" NOT NULL,
            item            text NOT NULL,
            seq             bigint GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (user_id, conversation_id)
        );

        CREATE INDEX messages_by_event ON messages (conversation_id, created_event_id);
        CREATE INDEX messages_by_author ON messages (conversation_id, author_id, created_event_id);
        """,

        // 5: messages as a tree, as in SQLite's migration 5 (an assistant message follows the
        // prompt it replies to, a prompt the message stored before it; the head is the last
        // assistant message).
        """
        ALTER TABLE messages ADD COLUMN parent_id text;
        UPDATE messages m SET parent_id = CASE
            WHEN m.role = 'assistant' THEN m.reply_to
            ELSE (SELECT p.id FROM messages p
                   WHERE p.conversation_id = m.conversation_id
                     AND (p.created_event_id, p.seq) < (m.created_event_id, m.seq)
                   ORDER BY p.created_event_id DESC, p.seq DESC LIMIT 1)
        END;
        ALTER TABLE conversations ADD COLUMN head_message_id text;
        UPDATE conversations c SET head_message_id = (
            SELECT m.id FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant'
             ORDER BY m.created_event_id DESC, m.seq DESC LIMIT 1);
        """,

        // 6: token budgets, as SQLite's migration 6: who pays for a reply (existing ones: their
        // prompt's author), and one charge per reply that ended with a known usage, written in the
        // commit of its message.completed, on the UTC day it ended.
        """
        ALTER TABLE messages ADD COLUMN requested_by text COLLATE "C";
        UPDATE messages a SET requested_by = p.author_id FROM messages p
         WHERE a.role = 'assistant' AND p.conversation_id = a.conversation_id AND p.id = a.reply_to;

        CREATE TABLE usage_charges (
            reply_id          text COLLATE "C" NOT NULL PRIMARY KEY,
            user_id           text COLLATE "C" NOT NULL,
            day               date NOT NULL,
            conversation_id   text COLLATE "C" NOT NULL,
            prompt_tokens     integer NOT NULL,
            completion_tokens integer NOT NULL
        );
        CREATE INDEX usage_charges_by_day ON usage_charges (user_id, day) INCLUDE (prompt_tokens, completion_tokens);
        """,

        // 7: long conversations, as SQLite's migration 7: open replies, a message's children and
        // idempotency keys by age (keys stored before this migration count from the migration).
        """
        ALTER TABLE idempotency_keys ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
        ALTER TABLE idempotency_keys ALTER COLUMN created_at DROP DEFAULT;
        CREATE INDEX idempotency_keys_by_age ON idempotency_keys (conversation_id, created_at);
        CREATE INDEX messages_open ON messages (conversation_id) WHERE status IN ('queued', 'streaming');
        CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, created_event_id);
        """,
    ];

    /// <summary>Applies the migrations this database lacks, all in one transaction.</summary>
    public static async Task ApplyAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Taken before anything is read, and held until commit or rollback; a silo that waited
        // for it then sees the version the first one wrote.
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken);
        await ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS schema_version (
                version    integer NOT NULL PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, cancellationToken);

        await using (var command = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version", connection))
        {
            var version = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
            if (version > Migrations.Length)
            {
                throw new InvalidOperationException(
                    $"The database is at schema version {version}, newer than this build knows ({Migrations.Length}).");
            }

            for (var i = version; i < Migrations.Length; i++)
            {
                // PostgreSQL's DDL is transactional: a failed migration leaves no half-made tables.
                await ExecuteAsync(connection, $"{Migrations[i]}\nINSERT INTO schema_version (version) VALUES ({i + 1});", cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
