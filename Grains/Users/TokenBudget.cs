namespace ChatGrains.Users;

public sealed class TokenBudgetOptions
{
    public const string SectionName = "Limits";

    /// <summary>The tokens (prompt and completion) each user may spend per UTC day; 0 is no limit.</summary>
    public long TokensPerUserPerDay { get; set; }
}

/// <summary>
/// One user's budget for the current UTC day, as the user grain keeps it. The charges themselves
/// are the store's (each is written with its reply's completion); this remembers the most the
/// store has shown for the day. A day's charges only grow, so that is a lower bound of the truth:
/// once it reaches the limit the user stays over until midnight without another read, while a
/// user under it is read again, so that a charge just committed on any silo counts.
/// </summary>
public sealed class TokenBudget(long limit)
{
    private DateOnly _day;
    private Usage _seen = new(0, 0);

    /// <summary>The daily budget; 0 is no limit.</summary>
    public long Limit => limit;

    public static DateOnly DayOf(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime);

    /// <summary>The next UTC midnight, when the day's budget starts again.</summary>
    public static DateTimeOffset ResetsAt(DateTimeOffset now) => new(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);

    /// <summary>Whole seconds until <see cref="ResetsAt"/>, rounded up and at least 1 (a Retry-After).</summary>
    public static int SecondsUntilReset(DateTimeOffset now) => Math.Max(1, (int)Math.Ceiling((ResetsAt(now) - now).TotalSeconds));

    /// <summary>Whether what was already seen for <paramref name="day"/> puts the user at or over the budget.</summary>
    public bool KnownOver(DateOnly day) => _day == day && IsOver(_seen);

    public bool IsOver(Usage usage) => limit > 0 && Total(usage) >= limit;

    /// <summary>What the store holds for <paramref name="day"/>, as just read; a new day starts afresh.</summary>
    public void Observe(DateOnly day, Usage usage)
    {
        if (day != _day || Total(usage) > Total(_seen)) (_day, _seen) = (day, usage);
    }

    private static long Total(Usage usage) => (long)usage.PromptTokens + usage.CompletionTokens;
}
