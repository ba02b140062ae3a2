using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace ChatGrains.Api;

/// <summary>Per-client-address limits on sign-ins and prompts.</summary>
public sealed class RateLimits
{
    public const string SectionName = "RateLimits";
    public const string SignIn = "sign-in";
    public const string Prompts = "prompts";
    public const string Typing = "typing";

    public int SignInsPerMinute { get; set; } = 60;
    public int PromptsPerMinute { get; set; } = 120;

    /// <summary>Typing notices per signed-in user (not per address: a page sends one every couple of seconds while its user types).</summary>
    public int TypingPerMinute { get; set; } = 120;

    public static void Configure(RateLimiterOptions options, RateLimits limits)
    {
        if (limits.SignInsPerMinute < 1 || limits.PromptsPerMinute < 1 || limits.TypingPerMinute < 1)
            throw new InvalidOperationException("RateLimits:SignInsPerMinute, RateLimits:PromptsPerMinute and RateLimits:TypingPerMinute must be at least 1.");
        options.AddPolicy(SignIn, http => PerAddress(http, limits.SignInsPerMinute));
        options.AddPolicy(Prompts, http => PerAddress(http, limits.PromptsPerMinute));
        options.AddPolicy(Typing, http => RateLimitPartition.GetTokenBucketLimiter(
            "user:" + ((http.User.FindFirst("sub") ?? http.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier))?.Value ?? "unknown"), _ => Bucket(limits.TypingPerMinute)));
        options.OnRejected = async (context, cancellation) =>
        {
            var http = context.HttpContext;
            if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
            await ProblemMapping.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests", "This client address is over its rate limit; try again later.");
        };
    }

    /// <summary>
    /// A token bucket per address: a full minute's allowance may be spent at once, and it refills
    /// at that many tokens a minute, so any one-minute window allows at least the configured
    /// number. (Partitioned buckets refill by the time elapsed, on a 100 ms heartbeat, so a token
    /// every <c>1 min / perMinute</c> is that rate exactly, to the tick.)
    /// </summary>
    private static RateLimitPartition<string> PerAddress(HttpContext http, int perMinute) =>
        RateLimitPartition.GetTokenBucketLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "unknown", _ => Bucket(perMinute));

    public static TokenBucketRateLimiterOptions Bucket(int perMinute) => new()
    {
        TokenLimit = perMinute,
        TokensPerPeriod = 1,
        // Rounded down, so the rate is never below the setting.
        ReplenishmentPeriod = TimeSpan.FromTicks(TimeSpan.TicksPerMinute / perMinute),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
