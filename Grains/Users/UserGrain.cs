using ChatGrains.Conversation;
using ChatGrains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace ChatGrains.Users;

/// <summary>
/// One user: their list, read positions and own numbered event log. Conversation grains send it
/// hints ("conversation X changed for you"); it reads that conversation's truth from the store,
/// diffs it against what its stream has said (<see cref="UserList"/>), and commits the resulting
/// events before publishing them, so ids are consecutive, durable before anyone sees them, and
/// never reused after a crash or a move. A hint can be lost with a silo: on activation and every
/// <see cref="UserOptions.ReconcilePeriod"/> the whole list is compared with the store instead.
/// </summary>
public sealed partial class UserGrain(
    IUserStore store, IOptions<UserOptions> options, IOptions<TokenBudgetOptions> budget, TimeProvider clock, ILogger<UserGrain> logger)
    : Grain, IUserGrain
{
    private readonly TokenBudget _budget = new(budget.Value.TokensPerUserPerDay);
    private const int MaxPage = 1000;
    private readonly UserOptions _options = options.Value;
    private const int RecentCapacity = 256;
    private RecentEvents _recent = new(RecentCapacity);
    private UserList _list = null!;
    private IAsyncStream<ConversationEvent> _stream = null!;
    private long _lastEventId;
    private long _firstStoredEventId;
    private IGrainTimer? _flushTimer;
    // Conversations hinted since the drain last ran, with a removal's reason.
    private readonly Dictionary<string, string?> _hinted = new(StringComparer.Ordinal);
    private IGrainTimer? _hintDrain;

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _stream = this.GetStreamProvider(ConversationStreams.Provider).GetStream<ConversationEvent>(UserStreams.For(Id));
        var log = await store.LoadLogAsync(Id, cancellationToken);
        (_lastEventId, _firstStoredEventId) = (log.LastEventId, log.FirstStoredEventId);
        _list = new UserList(log.Listed, _options.UpdateInterval);
        // A notification may have been lost while no activation was here to take it.
        await ReconcileAsync();
        this.RegisterGrainTimer(ReconcileOnTimerAsync, new GrainTimerCreationOptions(_options.ReconcilePeriod, _options.ReconcilePeriod));
    }

    public async Task<IReadOnlyList<ConversationListItem>> ListAsync() => await ReconcileAsync();

    public async Task MarkReadAsync(string conversationId, long lastEventId)
    {
        await store.SaveReadPositionAsync(Id, conversationId, lastEventId);
        await RefreshAsync(conversationId, null);
    }

    /// <summary>
    /// Notes the hint and returns at once (it interleaves: it only writes down which conversation
    /// to read); one drain, a grain timer that runs in turn with the list's other work, reads every
    /// conversation hinted so far and commits what changed in one commit. A user with many busy
    /// conversations sends a hint per prompt, reply and completion in each: handled one by one, each
    /// with its own store read and commit, they queued up faster than they were served, and the
    /// queue made every message to the grain slower.
    /// </summary>
    public Task ConversationChangedAsync(string conversationId, ConversationChangeKind kind, string? removal)
    {
        var reason = kind == ConversationChangeKind.Removed ? removal : null;
        // A removal's reason is kept over a later hint's none: the store says the same either way.
        if (!_hinted.TryGetValue(conversationId, out var held) || held is null) _hinted[conversationId] = reason;
        _hintDrain ??= this.RegisterGrainTimer(DrainHintsAsync, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
        return Task.CompletedTask;
    }

    private async Task DrainHintsAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (_hinted.Count > 0)
            {
                var hinted = _hinted.ToList();
                _hinted.Clear();
                var changes = new List<UserChange>();
                foreach (var (conversationId, removal) in hinted) await ObserveAsync(conversationId, removal, changes);
                await CommitAndPublishAsync(changes);
            }
        }
        catch (Exception ex)
        {
            LogReconcileFailed(ex, Id); // the next reconcile reads the whole list again
        }
        finally
        {
            _hintDrain?.Dispose();
            _hintDrain = null;
        }
    }

    public async Task<EventPage> ReadEventsAsync(long afterId, int max)
    {
        max = Math.Clamp(max, 0, MaxPage);
        IReadOnlyList<ConversationEvent> events = [];
        if (max > 0 && afterId < _lastEventId && afterId + 1 >= _firstStoredEventId)
            events = _recent.Covers(afterId) ? _recent.After(afterId, max) : await store.ReadEventsAsync(Id, afterId, max);
        return new EventPage(events, _lastEventId, _firstStoredEventId, false);
    }

    public async Task<TokenUsage> GetUsageAsync()
    {
        var now = clock.GetUtcNow();
        var usage = await ReadUsageAsync(TokenBudget.DayOf(now));
        return new TokenUsage(usage.PromptTokens, usage.CompletionTokens, _budget.Limit, TokenBudget.ResetsAt(now));
    }

    public async Task EnsureWithinBudgetAsync()
    {
        if (_budget.Limit <= 0) return;
        var now = clock.GetUtcNow();
        var day = TokenBudget.DayOf(now);
        if (!_budget.KnownOver(day) && !_budget.IsOver(await ReadUsageAsync(day))) return;
        throw ConversationException.OverBudget(TokenBudget.ResetsAt(now), TokenBudget.SecondsUntilReset(now));
    }

    /// <summary>
    /// The day's charges, from the store: each was written in the same commit as its reply's
    /// completion, on whichever silo, so none is lost with a silo and none is missed here.
    /// </summary>
    private async Task<Usage> ReadUsageAsync(DateOnly day)
    {
        var usage = await store.ReadUsageAsync(Id, day);
        _budget.Observe(day, usage);
        return usage;
    }

    /// <summary>Reads one conversation's truth and sends what changed.</summary>
    private async Task RefreshAsync(string conversationId, string? removal)
    {
        var changes = new List<UserChange>();
        await ObserveAsync(conversationId, removal, changes);
        await CommitAndPublishAsync(changes);
    }

    /// <summary>Reads one conversation's truth and adds what changed for this user to <paramref name="changes"/>.</summary>
    private async Task ObserveAsync(string conversationId, string? removal, List<UserChange> changes)
    {
        var truth = await store.FindAsync(Id, conversationId);
        _list.Observe(conversationId, truth.Item, removal ?? Why(truth), clock.GetUtcNow(), changes);
    }

    /// <summary>Compares the whole list with the store and sends what brings the stream to it; returns the truth.</summary>
    private async Task<IReadOnlyList<ConversationListItem>> ReconcileAsync()
    {
        var truth = await store.ListAsync(Id);
        var changes = new List<UserChange>();
        foreach (var gone in _list.Reconcile(truth, clock.GetUtcNow(), changes)) await ObserveAsync(gone, null, changes);
        await CommitAndPublishAsync(changes);
        return truth;
    }

    private async Task ReconcileOnTimerAsync(CancellationToken cancellationToken)
    {
        try { await ReconcileAsync(); }
        catch (Exception ex) { LogReconcileFailed(ex, Id); } // the next period tries again
    }

    /// <summary>Sends the held updates whose interval is up; stops when none is held.</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var changes = new List<UserChange>();
        _list.TakeDue(clock.GetUtcNow(), changes);
        try { await CommitAndPublishAsync(changes); }
        catch (Exception ex) { LogReconcileFailed(ex, Id); }
    }

    /// <summary>Numbers the changes, stores them with the list rows they change, then publishes them.</summary>
    private async Task CommitAndPublishAsync(List<UserChange> changes)
    {
        if (changes.Count > 0)
        {
            var events = changes.Select((c, i) => new ConversationEvent(_lastEventId + 1 + i, c.Type, c.Data())).ToList();
            var last = events[^1].Id;
            var keepFrom = Math.Max(1, last - _options.RetainedEvents + 1);
            var commit = new UserCommit(Id, events,
                [.. changes.Where(c => c.Item is not null).Select(c => c.Item!)],
                [.. changes.Where(c => c.Item is null).Select(c => c.ConversationId)],
                keepFrom > _firstStoredEventId ? keepFrom : 0,
                [.. changes.Where(c => c.Reason == RemovalReasons.Deleted).Select(c => c.ConversationId)]);
            try
            {
                await store.CommitAsync(commit);
            }
            catch
            {
                // The list in memory is now ahead of the store: the next call reloads the truth.
                DeactivateOnIdle();
                throw;
            }
            _lastEventId = last;
            _firstStoredEventId = Math.Max(_firstStoredEventId, keepFrom);
            // The stored events of a deleted conversation lost its title: replay them from there.
            if (commit.Deleted is { Count: > 0 }) _recent = new RecentEvents(RecentCapacity);
            foreach (var e in events) _recent.Add(e);
            try
            {
                // The stream is the fast path: a host that misses an event reads it from here.
                foreach (var e in events) await _stream.OnNextAsync(e);
            }
            catch (Exception ex)
            {
                LogPublishFailed(ex, Id, events[0].Id);
            }
        }
        ArmFlushTimer();
    }

    private void ArmFlushTimer()
    {
        if (_list.HasHeld)
        {
            var period = _options.UpdateInterval / 4;
            _flushTimer ??= this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions(period, period));
        }
        else if (_flushTimer is not null)
        {
            _flushTimer.Dispose();
            _flushTimer = null;
        }
    }

    private static string Why(UserConversation truth) => truth.ConversationExists ? RemovalReasons.Removed : RemovalReasons.Deleted;

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId}: could not bring the list up to date; the next reconcile tries again")]
    private partial void LogReconcileFailed(Exception ex, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "User {UserId}: publishing events from {FirstId} failed; hosts will backfill from the grain")]
    private partial void LogPublishFailed(Exception ex, string userId, long firstId);
}
