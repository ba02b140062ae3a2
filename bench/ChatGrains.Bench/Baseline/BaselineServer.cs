using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;

namespace ChatGrains.Bench.Baseline;

/// <summary>
/// The baseline: the best a bare Kestrel fan-out does on this machine, with no Orleans and no
/// storage. Each conversation is an in-process channel fed by a timer that creates one
/// <c>message.delta</c> per event interval (as the grain's flush timer does); a fan-out loop
/// formats nothing (frames are built once) and offers each frame to every watcher's bounded
/// queue; each connection's writer writes everything queued, then flushes once; heartbeats are
/// jittered per connection. Same URL, headers, frame layout and sizes as ChatGrains, so the
/// same load generator drives both. Runs as its own process: <c>ChatGrains.Bench baseline-server</c>.
/// </summary>
public static class BaselineServer
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args.Where(a => a.StartsWith("--urls", StringComparison.Ordinal)).ToArray());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var heartbeat = TimeSpan.FromMilliseconds(ChildArgs.Long(args, "--heartbeat-ms", 15_000));
        var interval = TimeSpan.FromMilliseconds(ChildArgs.Long(args, "--event-interval-ms", 50));
        var topics = new Topics(heartbeat, interval);
        var app = builder.Build();
        app.MapGet("/health", () => "ok");
        app.MapGet("/health/feeds", () => TypedResults.Ok(new Counters(topics.Watchers, GC.GetTotalMemory(false), System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds)));
        app.MapPost("/bench/conversations", (int count) => TypedResults.Ok(topics.Create(count)));
        app.MapPost("/bench/publish", (int frameBytes) => topics.StartPublishing(frameBytes));
        app.MapPost("/bench/stop", () => topics.StopPublishing());
        app.MapGet("/bench/conversations/{id}", (string id) => TypedResults.Ok(new Head(topics.Find(id)?.LastId ?? 0)));
        app.MapMethods("/api/conversations/{id}/events", ["GET", "POST"], (string id, HttpContext http) => topics.StreamAsync(id, http));
        _ = topics.RunHeartbeatsAsync(app.Lifetime.ApplicationStopping);
        await app.RunAsync();
        return 0;
    }

    private sealed record Counters(int Watchers, long GcHeapBytes, double JitMilliseconds);

    private sealed record Head(long LastEventId);
}

internal sealed class Topics(TimeSpan heartbeatInterval, TimeSpan eventInterval)
{
    private static readonly byte[] Retry = "retry: 2000\n\n"u8.ToArray();
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();
    private readonly ConcurrentDictionary<string, Topic> _topics = new();
    private readonly ConcurrentDictionary<Subscriber, byte> _subscribers = new();
    private CancellationTokenSource _publishing = new();
    private int _watchers;

    public int Watchers => Volatile.Read(ref _watchers);

    public Topic? Find(string id) => _topics.GetValueOrDefault(id);

    public string[] Create(int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = Guid.NewGuid().ToString("N");
            _topics[ids[i]] = new Topic();
        }
        return ids;
    }

    public IResult StartPublishing(int frameBytes)
    {
        var stop = _publishing.Token;
        var topics = _topics.Values.ToArray();
        for (var i = 0; i < topics.Length; i++)
        {
            // Spread the timers' phases over one interval, as grains' timers are.
            var phase = eventInterval * i / topics.Length;
            _ = topics[i].PublishAsync(frameBytes, phase, eventInterval, stop);
        }
        return TypedResults.Ok();
    }

    public IResult StopPublishing()
    {
        _publishing.Cancel();
        _publishing = new CancellationTokenSource();
        return TypedResults.Ok();
    }

    public async Task RunHeartbeatsAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(heartbeatInterval / 10);
        while (await timer.WaitForNextTickAsync(stop))
        {
            var now = Environment.TickCount64;
            foreach (var s in _subscribers.Keys)
            {
                if (now - Volatile.Read(ref s.LastWrite) < s.HeartbeatPeriodMs) continue;
                Volatile.Write(ref s.LastWrite, now);
                s.Offer(new Frame(0, KeepAlive));
            }
        }
    }

    public async Task StreamAsync(string id, HttpContext http)
    {
        if (Find(id) is not { } topic)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var header = http.Request.Headers["Last-Event-ID"].ToString();
        long? after = long.TryParse(header, out var a) ? a : null;
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.BodyWriter;
        var cancel = http.RequestAborted;
        body.Write(Retry);
        await body.FlushAsync(cancel);

        var subscriber = new Subscriber(http.Abort)
        {
            HeartbeatPeriodMs = (long)(heartbeatInterval.TotalMilliseconds * (0.6 + 0.3 * Random.Shared.NextDouble())),
        };
        var position = topic.Attach(subscriber, after);
        Interlocked.Increment(ref _watchers);
        _subscribers.TryAdd(subscriber, 0);
        try
        {
            var frames = subscriber.Frames;
            while (true)
            {
                while (frames.TryRead(out var frame))
                {
                    if (frame.Id != 0)
                    {
                        if (frame.Id <= position) continue;
                        position = frame.Id;
                    }
                    body.Write(frame.Bytes);
                }
                // Everything queued is written, then flushed once.
                await body.FlushAsync(cancel);
                Volatile.Write(ref subscriber.LastWrite, Environment.TickCount64);
                if (!await frames.WaitToReadAsync(cancel)) break;
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
        finally
        {
            _subscribers.TryRemove(subscriber, out _);
            topic.Detach(subscriber);
            Interlocked.Decrement(ref _watchers);
        }
    }
}

internal sealed record Frame(long Id, byte[] Bytes);

internal sealed class Subscriber
{
    private readonly Channel<Frame> _frames = Channel.CreateBounded<Frame>(new BoundedChannelOptions(1024)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Action _disconnect;

    public Subscriber(Action disconnect) => _disconnect = disconnect;

    public long LastWrite = Environment.TickCount64;
    public long HeartbeatPeriodMs;

    public ChannelReader<Frame> Frames => _frames.Reader;

    public void Offer(Frame frame)
    {
        if (_frames.Writer.TryWrite(frame) || _frames.Reader.Completion.IsCompleted) return;
        _frames.Writer.TryComplete();
        _disconnect();
    }
}

/// <summary>One conversation: a publisher timer, an in-process channel, and a fan-out loop.</summary>
internal sealed class Topic
{
    private const int Recent = 512;
    private readonly Lock _gate = new();
    private readonly Queue<Frame> _recent = new();
    private readonly Channel<Frame> _inbound = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly string _messageId = Guid.NewGuid().ToString("N");
    private Subscriber[] _subscribers = [];
    private long _nextId;
    private long _lastId;

    public Topic() => _ = FanOutAsync();

    public long LastId => Volatile.Read(ref _lastId);

    /// <summary>Adds a subscriber, queueing what it missed after <paramref name="after"/>; returns the position it starts from.</summary>
    public long Attach(Subscriber subscriber, long? after)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers, subscriber];
            if (after is not { } from || from >= _lastId) return after ?? _lastId;
            foreach (var frame in _recent)
            {
                if (frame.Id > from) subscriber.Offer(frame);
            }
            return from;
        }
    }

    public void Detach(Subscriber subscriber)
    {
        lock (_gate) _subscribers = _subscribers.Where(s => s != subscriber).ToArray();
    }

    public async Task PublishAsync(int frameBytes, TimeSpan phase, TimeSpan interval, CancellationToken stop)
    {
        try
        {
            await Task.Delay(phase, stop);
            using var timer = new PeriodicTimer(interval);
            do
            {
                _inbound.Writer.TryWrite(Delta(++_nextId, frameBytes));
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A <c>message.delta</c> laid out as ChatGrains lays it out, padded to about <paramref name="frameBytes"/>.</summary>
    private Frame Delta(long id, int frameBytes)
    {
        var head = $": t={DateTime.UtcNow.Ticks}\nid: {id}\nevent: message.delta\ndata: {{\"messageId\":\"{_messageId}\",\"delta\":\"";
        const string tail = "\"}\n\n";
        var text = new string('x', Math.Max(1, frameBytes - head.Length - tail.Length));
        return new Frame(id, Encoding.UTF8.GetBytes(head + text + tail));
    }

    private async Task FanOutAsync()
    {
        var reader = _inbound.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var frame))
            {
                Subscriber[] subscribers;
                lock (_gate)
                {
                    _recent.Enqueue(frame);
                    if (_recent.Count > Recent) _recent.Dequeue();
                    _lastId = frame.Id;
                    subscribers = _subscribers;
                }
                foreach (var s in subscribers) s.Offer(frame);
            }
        }
    }
}
