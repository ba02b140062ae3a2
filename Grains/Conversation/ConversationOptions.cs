namespace ChatGrains.Conversation;

public sealed class ConversationOptions
{
    public const string SectionName = "Conversation";

    /// <summary>How often a streaming reply's new tokens are published as one delta.</summary>
    public TimeSpan DeltaInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Events each active conversation keeps in memory for fast replay.</summary>
    public int RecentEvents { get; set; } = 512;

    /// <summary>
    /// Events kept in the store for replay. Events of replies still in progress are kept
    /// regardless, so any resume point since the oldest open exchange can be served.
    /// </summary>
    public int RetainedEvents { get; set; } = 10_000;

    /// <summary>
    /// Messages an active conversation keeps in memory: the latest this many (as many as the
    /// default snapshot holds), plus every open reply and its prompt and the head. Older ones
    /// are read from the store when needed.
    /// </summary>
    public int RecentMessages { get; set; } = Paging.DefaultLimit;

    /// <summary>
    /// How long an Idempotency-Key is remembered: a retry within it is answered as before, one
    /// after it is a new request. Expired keys are deleted from the store.
    /// </summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Idempotency keys an active conversation keeps in memory (the latest); others are looked up in the store.</summary>
    public int HeldIdempotencyKeys { get; set; } = 256;

    /// <summary>
    /// For benchmarks: published events carry the time the grain created them (UTC ticks),
    /// which API hosts pass on as an SSE comment line, so a client on the same machine can
    /// measure creation-to-receive latency. Off by default; clients ignore comment lines.
    /// </summary>
    public bool StampEventTimes { get; set; }
}
