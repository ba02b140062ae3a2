using System.Security.Claims;
using System.Threading.Channels;
using ChatGrains.Api.Auth;
using ChatGrains.Api.Feeds;
using Microsoft.Extensions.Options;

namespace ChatGrains.Api.Presence;

/// <summary>
/// This host's side of presence. It counts the host's watch streams per conversation and user;
/// when a user's count goes from 0 to 1 or back, the conversation is marked changed, and a
/// background loop reports each changed conversation's whole set for this host to its
/// <see cref="IPresenceGrain"/> in one call, after a short batching delay. Every conversation
/// with watchers here is reported again every <see cref="PresenceOptions.RenewInterval"/>,
/// which renews the host's lease there. So the cluster pays one grain call per conversation
/// per renewal interval, plus one per burst of changes — never one per connection, heartbeat
/// or event.
/// </summary>
public sealed partial class PresenceReporter(IClusterClient client, IOptions<PresenceOptions> options, ILogger<PresenceReporter> logger) : BackgroundService
{
    private static readonly TimeSpan WithdrawTimeout = TimeSpan.FromSeconds(2);
    private readonly PresenceOptions _options = options.Value;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Watched> _conversations = [];
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>
    /// This process among the API hosts: unique per start, so a host that restarts reports as a
    /// new one and the entry of the process it replaces simply expires.
    /// </summary>
    public string HostId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <summary>
    /// Counts a watch stream of <paramref name="user"/> online until the result is disposed, or
    /// null when the log is not a conversation's (a user's own stream has no presence).
    /// </summary>
    public WatcherPresence? Watch(FeedSource source, ClaimsPrincipal user)
    {
        if (source.ConversationId is not { } conversationId) return null;
        var caller = user.ToCaller();
        lock (_gate)
        {
            if (!_conversations.TryGetValue(conversationId, out var watched)) _conversations[conversationId] = watched = new Watched();
            if (watched.Users.TryGetValue(caller.UserId, out var known))
            {
                watched.Users[caller.UserId] = known with { Count = known.Count + 1 };
                return new WatcherPresence(this, conversationId, caller);
            }
            watched.Users[caller.UserId] = new UserStreams(caller.Name, 1);
            watched.Changed = true;
        }
        _wake.Writer.TryWrite(true);
        return new WatcherPresence(this, conversationId, caller);
    }

    internal void Leave(string conversationId, Caller caller)
    {
        lock (_gate)
        {
            if (!_conversations.TryGetValue(conversationId, out var watched) || !watched.Users.TryGetValue(caller.UserId, out var known)) return;
            if (known.Count > 1)
            {
                watched.Users[caller.UserId] = known with { Count = known.Count - 1 };
                return;
            }
            watched.Users.Remove(caller.UserId);
            watched.Changed = true;
        }
        _wake.Writer.TryWrite(true);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Renewals fall due at different times for different conversations: look a few times
        // per interval, so each is renewed within a quarter interval of its due time.
        var tick = _options.RenewInterval / 4;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(tick);
                try
                {
                    await _wake.Reader.WaitToReadAsync(timeout.Token);
                    // Something changed: let the rest of a burst arrive, then report it all at once.
                    await Task.Delay(_options.BatchDelay, stoppingToken);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The tick: renewals.
                }
                _wake.Reader.TryRead(out _);
                foreach (var (conversationId, report) in TakeDue()) _ = SendAsync(conversationId, report);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>The conversations to report now: changed, or due for renewal, and not already being reported.</summary>
    private List<(string ConversationId, HostPresence Report)> TakeDue()
    {
        var now = Environment.TickCount64;
        var renew = (long)_options.RenewInterval.TotalMilliseconds;
        var due = new List<(string, HostPresence)>();
        lock (_gate)
        {
            foreach (var (conversationId, watched) in _conversations)
            {
                // One report per conversation at a time, so the grain sees them in order.
                if (watched.InFlight || (!watched.Changed && now - watched.SentAt < renew)) continue;
                watched.Changed = false;
                watched.InFlight = true;
                watched.SentAt = now;
                due.Add((conversationId, new HostPresence(HostId, watched.Online(), _options.Lease)));
            }
        }
        return due;
    }

    private async Task SendAsync(string conversationId, HostPresence report)
    {
        var failed = false;
        try
        {
            await client.GetGrain<IPresenceGrain>(conversationId).ReportAsync(report);
        }
        catch (Exception ex)
        {
            // The grain's silo may be failing over: the next tick tries again. A withdrawal is
            // not retried: the lease it would have ended runs out anyway.
            failed = report.Online.Count > 0;
            LogReportFailed(ex, conversationId);
        }
        var again = false;
        lock (_gate)
        {
            if (!_conversations.TryGetValue(conversationId, out var watched)) return;
            watched.InFlight = false;
            if (failed) watched.Changed = true;
            if (watched.Users.Count == 0 && !watched.Changed) _conversations.Remove(conversationId);
            // Changes that came while this report was on its way go out at once, not at the next tick.
            again = watched.Changed && !failed;
        }
        if (again) _wake.Writer.TryWrite(true);
    }

    /// <summary>On a graceful stop, this host's watchers go offline at once instead of when its leases run out.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        string[] conversations;
        lock (_gate)
        {
            conversations = [.. _conversations.Keys];
            _conversations.Clear();
        }
        var withdraw = Task.WhenAll(conversations.Select(async id =>
        {
            try { await client.GetGrain<IPresenceGrain>(id).ReportAsync(new HostPresence(HostId, [], TimeSpan.Zero)); }
            catch (Exception ex) { LogReportFailed(ex, id); }
        }));
        await Task.WhenAny(withdraw, Task.Delay(WithdrawTimeout, cancellationToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting presence in conversation {ConversationId} failed; it is tried again")]
    private partial void LogReportFailed(Exception ex, string conversationId);

    private sealed record UserStreams(string Name, int Count);

    /// <summary>One conversation's watchers on this host, and where its report stands.</summary>
    private sealed class Watched
    {
        public Dictionary<string, UserStreams> Users { get; } = [];
        public bool Changed { get; set; }
        public bool InFlight { get; set; }
        public long SentAt { get; set; }

        public IReadOnlyList<OnlineUser> Online() => [.. Users.Select(u => new OnlineUser(u.Key, u.Value.Name))];
    }
}
