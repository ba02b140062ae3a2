using System.Data.Common;
using System.Text.Json;

namespace ChatGrains.Storage;

/// <summary>
/// The SQL both user stores share (it is the same in SQLite and PostgreSQL but for the name of
/// the row-wise maximum), and reading its rows back.
/// </summary>
internal static class UserQueries
{
    /// <summary>
    /// The user's items, straight from the conversation tables. The read position is the greatest
    /// of the stored one, the event that made them a member (0 for the creator) and their own
    /// latest prompt (posting reads everything before it). Unread: messages after it that others
    /// created — other members' prompts and every reply. $1 is the user, $2 a conversation or null.
    /// </summary>
    public static string Items(string greatest, Func<int, string> parameter) => $"""
        SELECT c.id, c.title, c.owner_id, c.created_at, c.last_activity_at, p.role, p.position,
               (SELECT count(*) FROM messages x
                 WHERE x.conversation_id = c.id AND x.created_event_id > p.position
                   AND (x.role = 'assistant' OR x.author_id <> {parameter(1)})) AS unread
          FROM (SELECT m.conversation_id, m.role,
                       {greatest}(m.joined_event_id,
                           coalesce((SELECT r.last_read_event_id FROM read_positions r
                                      WHERE r.user_id = m.user_id AND r.conversation_id = m.conversation_id), 0),
                           coalesce((SELECT max(y.created_event_id) FROM messages y
                                      WHERE y.conversation_id = m.conversation_id AND y.author_id = m.user_id
                                        AND y.role = 'user'), 0)) AS position
                  FROM members m
                 WHERE m.user_id = {parameter(1)} AND ({parameter(2)} IS NULL OR m.conversation_id = {parameter(2)})) p
          JOIN conversations c ON c.id = p.conversation_id
         ORDER BY c.last_activity_at DESC, c.id
        """;

    public static async Task<List<ConversationListItem>> ReadItemsAsync(
        DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> time, CancellationToken cancellationToken)
    {
        var items = new List<ConversationListItem>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new ConversationListItem(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), time(reader, 3), time(reader, 4),
                reader.GetString(5), Convert.ToInt32(reader.GetValue(7)), reader.GetInt64(6)));
        }
        return items;
    }

    public static string ToJson(ConversationListItem item) => JsonSerializer.Serialize(item, ChatJson.Wire.ConversationListItem);

    public static ConversationListItem FromJson(string json) =>
        JsonSerializer.Deserialize(json, ChatJson.Wire.ConversationListItem) ?? throw new InvalidDataException("A stored list item is null.");
}
