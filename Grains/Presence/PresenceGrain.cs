using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace ChatGrains.Presence;

/// <summary>
/// A conversation's presence: the API hosts' leased reports of who they have watch streams for
/// (see <see cref="HostLeases"/>), and the typing throttle. What it announces goes out as id-0
/// events on the conversation's stream, which every host's feed already subscribes to, so
/// presence costs no subscription of its own. Its state is only what the hosts keep renewing:
/// nothing is stored, and an activation that is lost with its silo is rebuilt by the next
/// round of renewals (at most one renewal interval).
/// </summary>
public sealed partial class PresenceGrain(TimeProvider clock, ILogger<PresenceGrain> logger) : Grain, IPresenceGrain
{
    /// <summary>How often leases are checked: a dead host's watchers go at most this long after its lease ran out.</summary>
    public static readonly TimeSpan ExpiryCheck = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan TypingInterval = TimeSpan.FromSeconds(2);

    private readonly HostLeases _leases = new();
    private readonly TypingWindow _typing = new(TypingInterval);
    private IAsyncStream<ConversationEvent> _stream = null!;
    private IGrainTimer? _expiryTimer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _stream = this.GetStreamProvider(ConversationStreams.Provider)
            .GetStream<ConversationEvent>(ConversationStreams.For(this.GetPrimaryKeyString()));
        return Task.CompletedTask;
    }

    public async Task ReportAsync(HostPresence report)
    {
        // A host whose set changed is announced even when the union did not: that host may
        // have just opened its feed, and its new watcher waits for a presence that lists it.
        if (_leases.Report(report, clock.GetUtcNow())) await PublishPresenceAsync();
        WatchLeases();
    }

    public async Task TypingAsync(Caller caller)
    {
        if (!_typing.TryOpen(caller.UserId, clock.GetUtcNow())) return;
        WatchLeases();
        await PublishAsync(EphemeralEvents.Typing, JsonSerializer.Serialize(new TypingData(caller.UserId, caller.Name), ChatJson.Wire.TypingData));
    }

    public async Task<IReadOnlyList<OnlineUser>> GetOnlineAsync()
    {
        // A lease that ran out since the last check is announced here, not swallowed.
        if (_leases.Expire(clock.GetUtcNow())) await PublishPresenceAsync();
        return _leases.Online;
    }

    /// <summary>One timer while anything is held; none (and the grain free to be collected) once empty.</summary>
    private void WatchLeases()
    {
        if (_leases.IsEmpty && _typing.IsEmpty)
        {
            _expiryTimer?.Dispose();
            _expiryTimer = null;
            return;
        }
        _expiryTimer ??= this.RegisterGrainTimer(CheckLeasesAsync, new GrainTimerCreationOptions(ExpiryCheck, ExpiryCheck)
        {
            // Leases are what keeps it busy: a conversation somebody watches is reported every
            // few seconds anyway, and one nobody reports any more may be collected.
            KeepAlive = false,
        });
    }

    private async Task CheckLeasesAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        _typing.Prune(now);
        if (_leases.Expire(now)) await PublishPresenceAsync();
        WatchLeases();
    }

    private Task PublishPresenceAsync() =>
        PublishAsync(EphemeralEvents.Presence, JsonSerializer.Serialize(new PresenceData(_leases.Online), ChatJson.Wire.PresenceData));

    private async Task PublishAsync(string type, string data)
    {
        try
        {
            await _stream.OnNextAsync(new ConversationEvent(0, type, data));
        }
        catch (Exception ex)
        {
            // Ephemeral: nothing is retried. The next change announces the whole list again.
            LogPublishFailed(ex, type, this.GetPrimaryKeyString());
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing {Type} for conversation {ConversationId} failed")]
    private partial void LogPublishFailed(Exception ex, string type, string conversationId);
}
