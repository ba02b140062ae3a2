using System.Threading.Channels;
using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// One connection watching a conversation: a bounded queue of frames between the feed,
/// which offers every event without waiting, and the connection's writer. A watcher whose
/// queue is full is cut off instead of slowing the feed or growing without bound.
/// </summary>
public sealed class Watcher
{
    private readonly Channel<Frame> _frames;
    private readonly Action _disconnect;
    private long _lastWrite = Environment.TickCount64;

    public Watcher(int capacity, Action disconnect)
    {
        _frames = Channel.CreateBounded<Frame>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails instead of dropping
        });
        _disconnect = disconnect;
        HeartbeatPeriodMs = 0;
    }

    public ChannelReader<Frame> Frames => _frames.Reader;

    /// <summary>Set once the watcher was cut off for falling behind.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>This watcher's own heartbeat period, jittered so heartbeats do not all fall at once.</summary>
    public long HeartbeatPeriodMs { get; set; }

    public long MillisecondsSinceLastWrite => Environment.TickCount64 - Interlocked.Read(ref _lastWrite);

    public void MarkWritten() => Interlocked.Exchange(ref _lastWrite, Environment.TickCount64);

    /// <summary>Queues a frame; cuts the watcher off if it is too far behind.</summary>
    public void Offer(Frame frame)
    {
        if (_frames.Writer.TryWrite(frame)) return;
        if (_frames.Reader.Completion.IsCompleted) return;
        Overflowed = true;
        _frames.Writer.TryComplete();
        _disconnect();
    }

    /// <summary>Ends the stream after what is queued (the feed is going away).</summary>
    public void Close() => _frames.Writer.TryComplete();
}
