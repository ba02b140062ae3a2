namespace ChatGrains.Presence;

/// <summary>
/// The typing throttle: the first <c>typing</c> of a user in each window goes out, the rest
/// within it are dropped (a client sends one per keystroke burst; watchers need one every
/// couple of seconds to keep showing it).
/// </summary>
public sealed class TypingWindow(TimeSpan window)
{
    private readonly Dictionary<string, DateTimeOffset> _lastSent = [];

    /// <summary>True when this user's typing should be forwarded now (and starts a new window).</summary>
    public bool TryOpen(string userId, DateTimeOffset now)
    {
        if (_lastSent.TryGetValue(userId, out var last) && now - last < window) return false;
        _lastSent[userId] = now;
        return true;
    }

    /// <summary>Forgets windows that have closed, so the map holds only who typed recently.</summary>
    public void Prune(DateTimeOffset now)
    {
        foreach (var user in _lastSent.Where(u => now - u.Value >= window).Select(u => u.Key).ToList()) _lastSent.Remove(user);
    }

    public bool IsEmpty => _lastSent.Count == 0;
}
