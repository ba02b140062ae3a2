using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Api.EventStream;

/// <summary>
/// One piece of an event stream as it goes on the wire: an event is formatted to SSE bytes
/// once per host, then the same bytes are written to every watcher. <see cref="Id"/> is 0
/// for frames that carry no event id (the retry line, heartbeats, reset).
/// </summary>
public sealed class Frame
{
    private Frame(long id, byte[] bytes, string? completedMessageId = null, string? leftUserId = null, bool endsLog = false, bool completedByDelete = false)
    {
        Id = id;
        Bytes = bytes;
        CompletedMessageId = completedMessageId;
        LeftUserId = leftUserId;
        EndsLog = endsLog;
        CompletedByDelete = completedByDelete;
    }

    public long Id { get; }
    public byte[] Bytes { get; }

    /// <summary>For a <c>message.completed</c>, the message it completes (a POST stream ends on its reply's).</summary>
    public string? CompletedMessageId { get; }

    /// <summary>
    /// True when that reply was cancelled by the conversation's deletion: a POST stream then goes
    /// on to the <c>conversation.deleted</c> that follows instead of ending here.
    /// </summary>
    public bool CompletedByDelete { get; }

    /// <summary>For a <c>member.left</c>, who left: each of their streams ends after it.</summary>
    public string? LeftUserId { get; }

    /// <summary>A <c>conversation.deleted</c>: the last event of the log; every stream ends after it.</summary>
    public bool EndsLog { get; }

    /// <summary>Whether a stream read by <paramref name="viewerId"/> ends once this frame is written.</summary>
    public bool EndsStreamOf(string? viewerId) => EndsLog || (LeftUserId is not null && LeftUserId == viewerId);

    /// <summary>
    /// Presence and typing: no <c>id:</c> line, never replayed, written to watch streams only,
    /// and never a stream's position.
    /// </summary>
    public bool IsEphemeral { get; private init; }

    /// <summary>
    /// For a reply's event received on the stream: this host's span of the reply (see
    /// <see cref="Telemetry.FeedReplySpans"/>), parent of each connection's span; else default.
    /// </summary>
    public ActivityContext Trace { get; private init; }

    /// <summary>For a <c>message.delta</c> received on the stream, when its grain published it (UTC ticks), else 0.</summary>
    public long DeltaSentAtTicks { get; private init; }

    /// <summary>For a <c>presence</c>, the ids of the users it lists online.</summary>
    public IReadOnlySet<string>? Online { get; private init; }

    /// <summary>The first line of every stream: how long a client waits before reconnecting.</summary>
    public static Frame Retry(TimeSpan interval) => new(0, Encoding.UTF8.GetBytes($"retry: {(long)interval.TotalMilliseconds}\n\n"));

    /// <summary>A comment line: keeps proxies and clients from timing out an idle stream.</summary>
    public static readonly Frame Heartbeat = new(0, ": keep-alive\n\n"u8.ToArray());

    public static Frame From(ConversationEvent e, ActivityContext trace = default)
    {
        // The reply's id comes typed on the event (parsed once only for an event of the previous build).
        e = e.WithMessageFields();
        var ended = e.Reply is ReplyStep.Ended or ReplyStep.EndedByDelete;
        var left = e.Type == EventTypes.MemberLeft ? JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MemberLeftData)?.UserId : null;
        var bytes = Format(new SseItem<string>(e.Data, e.Type) { EventId = e.Id.ToString() });
        return new Frame(e.Id, e.CreatedAtTicks == 0 ? bytes : [.. Stamp(e.CreatedAtTicks), .. bytes], ended ? e.MessageId : null,
            left, e.Type == EventTypes.ConversationDeleted, e.Reply == ReplyStep.EndedByDelete)
        {
            Trace = trace,
            DeltaSentAtTicks = e.Type == EventTypes.MessageDelta ? e.SentAtTicks : 0,
        };
    }

    /// <summary>A <c>presence</c> or <c>typing</c> (see <see cref="EphemeralEvents"/>): like <c>reset</c>, sent without an id.</summary>
    public static Frame Ephemeral(ConversationEvent e) => new(0, Format(new SseItem<string>(e.Data, e.Type)))
    {
        IsEphemeral = true,
        Online = e.Type == EphemeralEvents.Presence
            ? JsonSerializer.Deserialize(e.Data, ChatJson.Wire.PresenceData)!.Online.Select(u => u.UserId).ToHashSet()
            : null,
    };

    /// <summary>The benchmark's timestamp (Conversation:StampEventTimes): a comment line that every client ignores.</summary>
    private static byte[] Stamp(long createdAtTicks) => Encoding.ASCII.GetBytes($": t={createdAtTicks}\n");

    /// <summary>The one event sent without an id: the resume point cannot be served, reload the snapshot.</summary>
    public static Frame Reset(long lastEventId) =>
        new(0, Format(new SseItem<string>(JsonSerializer.Serialize(new ResetData(lastEventId), ChatJson.Wire.ResetData), EventTypes.Reset)));

    private static byte[] Format(SseItem<string> item)
    {
        using var buffer = new MemoryStream(item.Data.Length + 64);
        // Writing to a MemoryStream completes synchronously.
        SseFormatter.WriteAsync(One(item), buffer).GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    private static async IAsyncEnumerable<SseItem<string>> One(SseItem<string> item)
    {
        yield return item;
        await Task.CompletedTask;
    }
}
