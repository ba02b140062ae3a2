using ChatGrains.Api.EventStream;

namespace ChatGrains.Api.Feeds;

/// <summary>
/// The latest frames of a feed's log, for quick resumes: a ring of consecutive ids, so a
/// resume point finds its place by arithmetic rather than by a scan (a resume storm attaches
/// thousands of watchers to one feed within a second).
/// </summary>
public sealed class RecentFrames(int capacity)
{
    private readonly Frame[] _ring = new Frame[capacity];
    private int _start;
    private int _count;

    /// <summary>Adds the log's next frame (its id follows the last one's); the oldest leaves when full.</summary>
    public void Add(Frame frame)
    {
        if (_count > 0 && frame.Id != this[_count - 1].Id + 1) Clear(); // not consecutive: start again rather than mislead
        if (_count == _ring.Length)
        {
            _ring[_start] = frame;
            _start = (_start + 1) % _ring.Length;
        }
        else
        {
            _ring[(_start + _count) % _ring.Length] = frame;
            _count++;
        }
    }

    public void Clear()
    {
        Array.Clear(_ring);
        _start = _count = 0;
    }

    /// <summary>
    /// Offers <paramref name="watcher"/> every frame after <paramref name="afterId"/>; false, offering
    /// nothing, when the frame right after it is no longer (or not yet) kept.
    /// </summary>
    public bool TryOffer(long afterId, Watcher watcher)
    {
        if (_count == 0) return false;
        var first = this[0].Id;
        var from = afterId + 1 - first;
        if (from < 0 || from >= _count) return false;
        for (var i = (int)from; i < _count; i++) watcher.Offer(this[i]);
        return true;
    }

    private Frame this[int index] => _ring[(_start + index) % _ring.Length];
}
