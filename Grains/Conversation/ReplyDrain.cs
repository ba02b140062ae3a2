using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatGrains.Conversation;

public sealed class ReplyDrainOptions
{
    /// <summary>How long a stopping silo waits for the replies it is generating (0: not at all).</summary>
    public TimeSpan Timeout { get; set; }
}

/// <summary>
/// Lets a silo that is asked to stop (SIGTERM, as in a rolling deploy) finish the replies it is
/// generating before its conversations move: it stops starting new replies (they stay queued
/// and are answered where the conversation activates next) and waits, up to a limit, for the
/// running ones to complete. It runs first in the silo's shutdown, while everything still works.
/// </summary>
public sealed class ReplyDrain(IOptions<ReplyDrainOptions> options, ILogger<ReplyDrain> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private int _active;
    private volatile bool _draining;

    public bool IsDraining => _draining;

    /// <summary>Replies being generated on this silo now.</summary>
    public int Active => Volatile.Read(ref _active);

    public void ReplyStarted() => Interlocked.Increment(ref _active);

    public void ReplyEnded() => Interlocked.Decrement(ref _active);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ReplyDrain), ServiceLifecycleStage.Active + 1, _ => Task.CompletedTask, DrainAsync);

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var limit = options.Value.Timeout;
        if (limit <= TimeSpan.Zero) return;
        _draining = true;
        var deadline = DateTime.UtcNow + limit;
        logger.LogInformation("Draining: waiting up to {Limit} for {Count} replies in progress", limit, Volatile.Read(ref _active));
        while (Volatile.Read(ref _active) > 0 && DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }
        logger.LogInformation("Drained: {Count} replies still in progress", Volatile.Read(ref _active));
    }
}
