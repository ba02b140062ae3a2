using System.Buffers.Text;
using ChatGrains.Bench.Targets;

namespace ChatGrains.Bench.Load;

/// <summary>
/// One watcher: a single event-stream connection, read with a small byte-level SSE parser
/// (the load generator shares two cores with the server, so it must be cheap). It checks
/// every id it receives: each must be the one after the last, across reconnects too, so a
/// lost, doubled or reordered event is caught where it happens. It resumes with
/// <c>Last-Event-ID</c> set to the last id it saw.
/// </summary>
public sealed class WatchConnection(int conversation, string conversationId, Recording recording, Action<int>? replyCompleted = null)
{
    private CancellationTokenSource? _run;
    private byte[] _buffer = new byte[4096];

    public int Conversation => conversation;
    public string ConversationId => conversationId;

    public long LastId;
    public long Events;
    public long EventsInWindow;
    public long BytesInWindow;
    public long Heartbeats;
    /// <summary>Times the server ended the stream while the bench was not dropping it.</summary>
    public int ServerClosed;
    public bool Failed;

    /// <summary>When set, the UTC ticks at which this watcher first received an id at or past <see cref="CatchUpTo"/>.</summary>
    public long CatchUpTo;
    public long CaughtUpAt;

    /// <summary>The UTC ticks at which this watcher's latest connection began sending its request, and got its response headers.</summary>
    public long SendingAt;
    public long AnsweredAt;

    /// <summary>Connects and reads until <see cref="Drop"/> or the server ends the stream; completes <paramref name="connected"/> once the headers are in.</summary>
    public async Task RunAsync(Target target, LoadClient client, TaskCompletionSource<bool> connected)
    {
        _run = new CancellationTokenSource();
        var cancel = _run.Token;
        try
        {
            using var request = target.WatchRequest(conversationId, LastId);
            SendingAt = DateTime.UtcNow.Ticks;
            using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            AnsweredAt = DateTime.UtcNow.Ticks;
            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            {
                Failed = true;
                recording.Violation($"watch {conversationId} answered {(int)response.StatusCode}");
                connected.TrySetResult(false);
                return;
            }
            connected.TrySetResult(true);
            await using var stream = await response.Content.ReadAsStreamAsync(cancel);
            await ReadAsync(stream, cancel);
            if (!cancel.IsCancellationRequested)
            {
                ServerClosed++;
                recording.Violation($"server ended the stream of a watcher of {conversationId} after id {LastId}");
            }
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            connected.TrySetResult(false);
        }
        catch (Exception ex)
        {
            Failed = true;
            connected.TrySetResult(false);
            recording.Violation($"watcher of {conversationId} failed after id {LastId}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>Closes the connection at once (the client went away).</summary>
    public void Drop() => _run?.Cancel();

    private async Task ReadAsync(Stream stream, CancellationToken cancel)
    {
        var end = 0;
        long id = 0, stamp = 0, blockBytes = 0;
        var completed = false;
        var reset = false;
        while (true)
        {
            if (end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2); // a line longer than the buffer
            var read = await stream.ReadAsync(_buffer.AsMemory(end), cancel);
            if (read == 0) return;
            // One clock reading per read: everything in it arrived together.
            var now = DateTime.UtcNow.Ticks;
            end += read;
            var start = 0;
            int newline;
            while ((newline = Array.IndexOf(_buffer, (byte)'\n', start, end - start)) >= 0)
            {
                var line = _buffer.AsSpan(start, newline - start);
                blockBytes += line.Length + 1;
                start = newline + 1;
                if (line.Length == 0)
                {
                    if (id > 0) Accept(id, stamp, blockBytes, completed, now);
                    if (reset) recording.Violation($"reset sent to a watcher of {conversationId} after id {LastId}");
                    id = stamp = blockBytes = 0;
                    completed = reset = false;
                }
                else if (line.StartsWith("id: "u8)) Utf8Parser.TryParse(line[4..], out id, out _);
                else if (line.StartsWith(": t="u8)) Utf8Parser.TryParse(line[4..], out stamp, out _);
                else if (line.SequenceEqual(": keep-alive"u8)) Heartbeats++;
                else if (line.SequenceEqual("event: message.completed"u8)) completed = true;
                else if (line.SequenceEqual("event: reset"u8)) reset = true;
            }
            end -= start;
            if (end > 0) Buffer.BlockCopy(_buffer, start, _buffer, 0, end);
        }
    }

    private void Accept(long id, long stamp, long bytes, bool completed, long now)
    {
        var expected = LastId + 1;
        if (id != expected)
        {
            recording.Violation(id < expected
                ? $"watcher of {conversationId}: id {id} after {LastId} (duplicate or out of order)"
                : $"watcher of {conversationId}: id {id} after {LastId} (ids {expected}..{id - 1} missing)");
        }
        if (id > LastId) Volatile.Write(ref LastId, id);
        Events++;
        if (recording.IsOpen)
        {
            EventsInWindow++;
            BytesInWindow += bytes;
            if (stamp > 0) recording.RecordLatency(now - stamp);
        }
        if (CatchUpTo > 0 && CaughtUpAt == 0 && id >= CatchUpTo) CaughtUpAt = now;
        if (completed) replyCompleted?.Invoke(conversation);
    }
}
