namespace ChatGrains.Api.Feeds;

public sealed class FeedOptions
{
    public const string SectionName = "Feeds";

    /// <summary>Frames a watcher may have queued; a watcher that falls further behind is cut off (it resumes with Last-Event-ID).</summary>
    public int WatcherBuffer { get; set; } = 1024;

    /// <summary>Recent events each feed keeps, so resumes of a live conversation need no grain call.</summary>
    public int RecentEvents { get; set; } = 512;

    /// <summary>How long a feed waits, while a reply is in progress, before asking the grain whether it missed something.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often an idle feed checks with the grain that its stream has not silently died.</summary>
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a feed stays subscribed after its last watcher leaves (a reload comes straight back).</summary>
    public TimeSpan UnsubscribeGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A comment line is sent to a watcher that has been sent nothing for this long.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> every stream starts with.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(2);
}
