namespace ChatGrains.Users;

public sealed class UserOptions
{
    public const string SectionName = "Users";

    /// <summary>The least time between two <c>conversation.updated</c> of one conversation; the last change is always sent.</summary>
    public TimeSpan UpdateInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often an active user grain compares its whole list with the store, so that a change
    /// whose notification was lost (a silo died between a conversation's commit and the call)
    /// still reaches the user's stream.
    /// </summary>
    public TimeSpan ReconcilePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The user's latest events kept for replay (at least 1,000); a resume point before them gets <c>reset</c>.</summary>
    public int RetainedEvents { get; set; } = 1000;
}
