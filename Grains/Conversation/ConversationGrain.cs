using System.Diagnostics;
using ChatGrains.Generation;
using ChatGrains.Storage;
using ChatGrains.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace ChatGrains.Conversation;

/// <summary>
/// A conversation. Changes are made in turns: build events against <see cref="ConversationState"/>,
/// commit them to the store, then publish them on the conversation's stream — so an id that
/// any client has seen is durable, and after a crash the log continues at the next id with no
/// gap and no reuse. Replies are generated one at a time off the grain's scheduler; a grain
/// timer collects their tokens every <see cref="ConversationOptions.DeltaInterval"/> and
/// publishes them as one delta, so a streaming reply never blocks the grain.
/// </summary>
public sealed partial class ConversationGrain(
    IConversationStore store,
    ReplyGenerator generator,
    ReplyDrain drain,
    IOptions<ConversationOptions> options,
    TimeProvider clock,
    ConversationTelemetry telemetry,
    ILogger<ConversationGrain> logger) : Grain, IConversationGrain
{
    private const int MaxPage = 1000;
    private readonly ConversationOptions _options = options.Value;
    private RecentEvents _recent = null!;
    private ConversationState? _state;
    private MessageWindow _window = null!;
    private IAsyncStream<ConversationEvent> _stream = null!;
    private ActiveReply? _active;
    private IGrainTimer? _flushTimer;
    private readonly ReplyTraces _traces = new(telemetry);

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _recent = new RecentEvents(_options.RecentEvents);
        _stream = this.GetStreamProvider(ConversationStreams.Provider).GetStream<ConversationEvent>(ConversationStreams.For(Id));
        _window = new MessageWindow(store, Id);
        var window = new LoadWindow(_options.RecentMessages, _options.HeldIdempotencyKeys, Now() - _options.IdempotencyRetention);
        var stored = await store.LoadAsync(Id, window, cancellationToken);
        if (stored is null) return;
        _state = ConversationState.Load(stored, _options.RecentMessages);

        // A reply that had started when its previous activation died cannot be resumed: end
        // it failed with the text its deltas carried, then let the queue go on. One that never
        // started (still queued, no deltas) is simply answered now.
        if (_state.OpenReplies.FirstOrDefault() is { } first)
        {
            var content = await _window.ReadStreamedTextAsync(_state, first, e => LogPoisonEvent(Id, e.Id, e.Type), cancellationToken);
            if (first.Message.Status == MessageStatus.Streaming || content.Length > 0)
            {
                _state.RestoreContent(first.Message.Id, content);
                _state.CompleteMessage(first.Message.Id, await InterruptedAsync(first.Message.Id, content));
                await CommitAndPublishAsync();
                LogInterrupted(first.Message.Id);
            }
        }
        await StartNextReplyAsync();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_active is { } active && _state is not null)
        {
            // Leaving with a reply in progress (shutdown, or the activation was discarded):
            // end it now rather than leave its watchers waiting.
            LogDeactivatedMidReply(active.MessageId, reason.ReasonCode, reason.Description);
            await active.StopAsync();
            var (text, _) = active.Buffer.Take();
            if (text.Length > 0) _state.AppendDelta(active.MessageId, text);
            _state.CompleteMessage(active.MessageId, await InterruptedAsync(active.MessageId, _state.FindMessage(active.MessageId)!.Message.Content));
            EndActiveReply();
            try { await CommitAndPublishAsync(); }
            catch (Exception ex) { logger.LogWarning(ex, "Could not end reply {MessageId} on deactivation", active.MessageId); }
            active.Span.End(MessageStatus.Failed);
        }
        _flushTimer?.Dispose();
    }

    public async Task<ConversationSnapshot> CreateAsync(Caller owner, string? title)
    {
        if (_state is not null) throw new ConversationException(ConversationErrorKind.Conflict, "The conversation already exists.");
        var info = new ConversationInfo(Id, string.IsNullOrWhiteSpace(title) ? "New conversation" : title.Trim(), owner.UserId, Now());
        _state = ConversationState.New(info, owner);
        await CommitAndPublishAsync();
        return _state.ToSnapshot();
    }

    public Task<ConversationSnapshot> GetSnapshotAsync(string userId, int limit = Paging.DefaultLimit) => _window.SnapshotAsync(MemberState(userId), limit);

    public Task<MessagePage> GetMessagesAsync(string userId, string? beforeMessageId, int limit = Paging.DefaultLimit) =>
        _window.PageBeforeAsync(MemberState(userId), beforeMessageId, limit);

    public Task<ConversationFootprint> GetFootprintAsync() => Task.FromResult(_state?.Footprint ?? new ConversationFootprint(0, 0, 0));

    public Task<LogHead> GetHeadAsync(string userId)
    {
        var state = MemberState(userId);
        return Task.FromResult(new LogHead(state.LastEventId, _active is not null));
    }

    public async Task<string> CreateInviteAsync(string userId) => (await InviteAsync(userId, InviteTerms.None)).InviteToken;

    public async Task<InviteInfo> InviteAsync(string userId, InviteTerms terms)
    {
        var invite = MemberState(userId).AddInvite(userId, Now(), terms);
        await CommitAndPublishAsync();
        return new InviteInfo(invite.Token, invite.CreatedBy, invite.CreatedAt, invite.ExpiresAt, invite.MaxUses, invite.Uses);
    }

    public Task<IReadOnlyList<InviteInfo>> ListInvitesAsync(string userId) => Task.FromResult(MemberState(userId).People.ListInvites());

    public async Task RevokeInviteAsync(string userId, string inviteToken)
    {
        MemberState(userId).RevokeInvite(userId, inviteToken);
        await CommitAndPublishAsync();
    }

    public async Task JoinAsync(Caller caller, string inviteToken)
    {
        if (_state is null || _state.Deleted) throw ConversationException.NotFound("The invite");
        _state.Join(caller, inviteToken, Now());
        await CommitAndPublishAsync();
    }

    public async Task<ConversationSnapshot> RenameAsync(string userId, string title)
    {
        var state = MemberState(userId);
        state.Rename(title);
        await CommitAndPublishAsync();
        return await _window.SnapshotAsync(state, Paging.DefaultLimit);
    }

    public async Task RemoveMemberAsync(string userId, string memberId)
    {
        // A removed member's replies go on: the prompt belongs to the conversation.
        MemberState(userId).RemoveMember(userId, memberId);
        await CommitAndPublishAsync();
    }

    public async Task DeleteAsync(string userId)
    {
        var state = MemberState(userId);
        state.People.RequireOwner(userId, "delete the conversation");
        if (_active is { } active)
        {
            // The generator stops first, so its last tokens go out before the cancellation.
            await active.StopAsync();
            var (text, _) = active.Buffer.Take();
            if (text.Length > 0) state.AppendDelta(active.MessageId, text);
            EndActiveReply();
            active.Span.End(MessageStatus.Cancelled);
        }
        _flushTimer?.Dispose();
        _flushTimer = null;
        state.Delete();
        // This activation keeps the last events for late readers (see ReadEventsAsync) until it
        // is collected; a fresh one finds nothing in the store.
        await CommitAndPublishAsync();
    }

    public async Task<PostReceipt> PostAsync(Caller caller, string content, string? idempotencyKey, PromptParent? parent = null)
    {
        var state = MemberState(caller.UserId);
        if (await KnownAsync(state, caller, idempotencyKey, ConversationState.PromptHash(content, parent)) is { } known) return known;
        // After validation and the key: a retry is answered as before, even over budget.
        await GrainFactory.GetGrain<IUserGrain>(caller.UserId).EnsureWithinBudgetAsync();

        if (parent?.MessageId is { } named) await _window.HoldAsync(state, named);
        var parentId = state.Tree.ParentForPrompt(parent);
        var now = Now();
        var prompt = state.AddMessage(new Message(NewId(), Roles.User, caller.UserId, caller.Name, content, MessageStatus.Complete, null, now, ParentId: parentId));
        // The poster pays for the reply, also when it waits behind someone else's.
        var reply = AddReply(state, prompt.Message.Id, now, caller.UserId);
        return await BeginExchangeAsync(state, caller, idempotencyKey, ConversationState.PromptHash(content, parent),
            new PostReceiptIds(prompt.Message.Id, reply.Message.Id, prompt.CreatedEventId));
    }

    public async Task<PostReceipt> RegenerateAsync(Caller caller, string messageId, string? idempotencyKey)
    {
        var state = MemberState(caller.UserId);
        var hash = ConversationState.RegenerateHash(messageId);
        if (await KnownAsync(state, caller, idempotencyKey, hash) is { } known) return known;

        await _window.HoldAsync(state, messageId);
        var original = state.FinishedReply(messageId, "regenerated");
        await _window.HoldAsync(state, original.ReplyTo!);
        // After the checks and the key, as for a post: a retry is answered as before, even over budget.
        await GrainFactory.GetGrain<IUserGrain>(caller.UserId).EnsureWithinBudgetAsync();
        // Who asked to regenerate pays for the new reply, not the prompt's author.
        var reply = AddReply(state, original.ReplyTo!, Now(), caller.UserId);
        return await BeginExchangeAsync(state, caller, idempotencyKey, hash,
            new PostReceiptIds(original.ReplyTo!, reply.Message.Id, reply.CreatedEventId));
    }

    public async Task<ConversationSnapshot> SetHeadAsync(string userId, string messageId)
    {
        var state = MemberState(userId);
        await _window.HoldAsync(state, messageId);
        state.MoveHead(messageId);
        await CommitAndPublishAsync();
        return await _window.SnapshotAsync(state, Paging.DefaultLimit);
    }

    public async Task<ForkSource> GetForkSourceAsync(string userId, string messageId)
    {
        var state = MemberState(userId);
        await _window.HoldAsync(state, messageId);
        state.FinishedReply(messageId, "forked");
        return new ForkSource(state.Info.Title, await _window.PathToAsync(state, messageId));
    }

    public async Task<ConversationSnapshot> CreateForkAsync(Caller owner, ForkSource source)
    {
        if (_state is not null) throw new ConversationException(ConversationErrorKind.Conflict, "The conversation already exists.");
        var info = new ConversationInfo(Id, source.Title + " (fork)", owner.UserId, Now());
        _state = ConversationState.Fork(info, owner, source.Path, NewId);
        await CommitAndPublishAsync();
        return await _window.SnapshotAsync(_state, Paging.DefaultLimit);
    }

    /// <summary>
    /// The receipt of the exchange a repeated key names, within the key's retention (after it, the
    /// key is new); 422 when it named another request.
    /// </summary>
    private async Task<PostReceipt?> KnownAsync(ConversationState state, Caller caller, string? idempotencyKey, string hash) =>
        idempotencyKey is not null && await _window.KnownExchangeAsync(state, caller.UserId, idempotencyKey, hash, Now() - _options.IdempotencyRetention) is { } known
            ? Receipt(known) : null;

    /// <summary>
    /// A reply to <paramref name="promptId"/>, queued behind any open one and paid for by
    /// <paramref name="payerId"/>; the head moves to it.
    /// </summary>
    private StoredMessage AddReply(ConversationState state, string promptId, DateTimeOffset now, string payerId)
    {
        // While this silo drains, a new reply waits for the conversation's next home.
        var status = state.OpenReplies.Any() || drain.IsDraining ? MessageStatus.Queued : MessageStatus.Streaming;
        var reply = state.AddMessage(new Message(NewId(), Roles.Assistant, "assistant", "Assistant", "", status, promptId, now, ParentId: promptId), payerId);
        state.MoveHead(reply.Message.Id);
        _traces.Queued(reply.Message.Id);
        return reply;
    }

    private async Task<PostReceipt> BeginExchangeAsync(ConversationState state, Caller caller, string? idempotencyKey, string hash, PostReceiptIds exchange)
    {
        var now = Now();
        if (idempotencyKey is not null)
            state.AddKey(new IdempotencyRecord(caller.UserId, idempotencyKey, hash, exchange, now), _options.HeldIdempotencyKeys, now - _options.IdempotencyRetention);
        await CommitAndPublishAsync();
        await StartNextReplyAsync();
        return Receipt(exchange);
    }

    public async Task CancelAsync(string userId, string messageId)
    {
        var state = MemberState(userId);
        await _window.HoldAsync(state, messageId);
        var message = state.FindMessage(messageId) ?? throw ConversationException.NotFound("The message");
        if (message.Message.Role != Roles.Assistant || MessageStatus.IsFinal(message.Message.Status))
            throw new ConversationException(ConversationErrorKind.Conflict, "Only a queued or streaming reply can be cancelled.");

        if (_active?.MessageId == messageId)
        {
            // The generator stops at once; the next flush publishes what it had and the
            // cancelled completion, in that order.
            _active.Cancel();
            return;
        }
        state.CompleteMessage(messageId, ReplyOutcome.Cancelled);
        await CommitAndPublishAsync();
    }

    public async Task<EventPage> ReadEventsAsync(long afterId, int max)
    {
        // A deleted (or never created) conversation's log is gone: a reader ends its stream. A
        // reader that missed the last events still gets them while this activation holds them.
        if (_state is null) return EventPage.GoneAfter([], 0);
        if (_state.Deleted) return EventPage.GoneAfter(_recent.Covers(afterId) ? _recent.After(afterId, MaxPage) : [], _state.LastEventId);
        max = Math.Clamp(max, 0, MaxPage);
        IReadOnlyList<ConversationEvent> events = [];
        if (max > 0 && afterId < _state.LastEventId && afterId + 1 >= _state.FirstStoredEventId)
        {
            events = _recent.Covers(afterId)
                ? _recent.After(afterId, max)
                : await ReadReplayableAsync(afterId, max);
        }
        return new EventPage(events, _state.LastEventId, _state.FirstStoredEventId, _active is not null);
    }

    /// <summary>
    /// Stored events after <paramref name="afterId"/>, unless one of them is a poison event
    /// (see <see cref="StoredEvent"/>). Then the log is treated as starting after it, as if it
    /// had been pruned: the page is empty and the caller, which cannot resume from before it,
    /// sends <c>reset</c> (the snapshot does not depend on the log). Skipping the event instead
    /// would leave a gap in the ids a client sees; retrying would stall every watcher behind it.
    /// </summary>
    private async Task<IReadOnlyList<ConversationEvent>> ReadReplayableAsync(long afterId, int max)
    {
        var events = await store.ReadEventsAsync(Id, afterId, max);
        var poison = events.Where(e => !StoredEvent.IsWellFormed(e)).ToList();
        // The store keeps each event's data once; its message fields are read from it here.
        if (poison.Count == 0) return events.Select(e => e.WithMessageFields()).ToList();
        foreach (var e in poison) LogPoisonEvent(Id, e.Id, e.Type);
        _state!.StartReplayAfter(poison[^1].Id);
        return [];
    }

    /// <summary>The state, for a member's turn, which first lets go of what earlier turns read from the store.</summary>
    private ConversationState MemberState(string userId)
    {
        if (_state is not { } s || !s.IsMember(userId)) throw ConversationException.NotFound("The conversation");
        s.Trim(_options.RecentMessages);
        return s;
    }

    private PostReceipt Receipt(PostReceiptIds exchange) =>
        new(exchange.UserMessageId, exchange.AssistantMessageId, exchange.EventId,
            _state!.FindMessage(exchange.AssistantMessageId)?.CompletedEventId ?? 0, _state.LastEventId);

    /// <summary>Starts generating the oldest queued reply, if none is running.</summary>
    private async Task StartNextReplyAsync()
    {
        if (_active is not null || drain.IsDraining || _state?.OpenReplies.FirstOrDefault() is not { } next) return;
        // The model sees the path from the first prompt to the one it answers, not other branches.
        // If the store cannot be read, the reply stays queued and the next activation starts it.
        if (await _window.ReplyInputAsync(_state, next) is not { } input)
        {
            DeactivateOnIdle();
            return;
        }
        _active = ActiveReply.Start(next.Message.Id, input.Path, input.Sibling, generator, _traces.Start(Id, next.Message.Id));
        drain.ReplyStarted();
        _flushTimer ??= this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions(_options.DeltaInterval, _options.DeltaInterval)
        {
            KeepAlive = true, // a conversation with a reply in progress stays active
        });
    }

    /// <summary>Publishes the active reply's new text as one delta, and its end when it has ended.</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_active is not { } active || _state is null)
        {
            _flushTimer?.Dispose();
            _flushTimer = null;
            return;
        }
        // The flush belongs to the reply's trace, whatever the timer's context: its events carry
        // the reply's span, and its last commit (the completion) is traced inside it.
        Activity.Current = active.Span.Activity;
        var (text, outcome) = active.Buffer.Take();
        if (text.Length > 0) _state.AppendDelta(active.MessageId, text);
        if (outcome is not null)
        {
            _state.CompleteMessage(active.MessageId, outcome);
            EndActiveReply();
        }
        try
        {
            await CommitAndPublishAsync(active.Span.Activity, traced: outcome is not null);
        }
        finally
        {
            if (outcome is not null) active.Span.End(outcome.Status, outcome.Usage);
        }
        if (outcome is not null) await StartNextReplyAsync();
    }

    /// <summary>
    /// Commits the turn's events, then publishes them. <paramref name="reply"/>: the span of the
    /// reply whose flush this is, carried by its events. <paramref name="traced"/>: whether the
    /// commit and the publish get spans of their own (not for a streaming reply's every flush).
    /// </summary>
    private async Task CommitAndPublishAsync(Activity? reply = null, bool traced = true)
    {
        var now = Now();
        var commit = _state!.TakeCommit(now, _options.RetainedEvents, now - _options.IdempotencyRetention);
        if (commit is null) return;
        var committing = traced ? ConversationTelemetry.Source.StartActivity("chatgrains.commit") : null;
        committing?.SetTag("chatgrains.conversation.id", Id);
        committing?.SetTag("chatgrains.events", commit.Events.Count);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await store.CommitAsync(commit);
        }
        catch (Exception ex)
        {
            committing?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            // The memory state is now ahead of the store; drop this activation so the next
            // call reloads the truth.
            if (_active is { } active)
            {
                active.Cancel();
                EndActiveReply();
                active.Span.End(MessageStatus.Failed);
            }
            DeactivateOnIdle();
            throw;
        }
        finally
        {
            telemetry.Committed(Stopwatch.GetElapsedTime(started));
            committing?.Stop();
        }
        // Only now, with their rows stored, may messages leave memory.
        _state.Trim(_options.RecentMessages);
        foreach (var e in commit.Events) _recent.Add(e);
        using var publishing = traced ? ConversationTelemetry.Source.StartActivity("chatgrains.publish", ActivityKind.Producer) : null;
        var traceParent = (reply ?? Activity.Current)?.Id;
        // The wall clock, not the injected one: hosts compare it with their own to time the delivery.
        var sentAt = DateTime.UtcNow.Ticks;
        try
        {
            // The stream is the fast path only: a host that misses an event notices the gap
            // (or the silence) and reads it from this grain.
            foreach (var e in commit.Events)
                await _stream.OnNextAsync(e with { CreatedAtTicks = _options.StampEventTimes ? now.UtcTicks : 0, SentAtTicks = sentAt, TraceParent = traceParent });
        }
        catch (Exception ex)
        {
            publishing?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            LogPublishFailed(ex, commit.Events[0].Id);
        }
        MemberNotifications.AfterCommit(GrainFactory, Id, commit.Created?.OwnerId, commit.Events, _state.Members.Select(m => m.UserId));
    }

    /// <summary>
    /// A reply whose generator is gone ends failed, charged with what it was shown (counted from
    /// the same history <see cref="StartNextReplyAsync"/> gave it: the path from the first prompt to the
    /// one it answers, not other branches) and what it streamed.
    /// </summary>
    private async Task<ReplyOutcome> InterruptedAsync(string messageId, string streamed)
    {
        var history = await _window.PathToAsync(_state!, _state!.FindMessage(messageId)!.Message.ReplyTo!);
        return ReplyOutcome.Interrupted with { Usage = generator.CountUsage(history, streamed) };
    }

    private void EndActiveReply()
    {
        _active = null;
        drain.ReplyEnded();
    }

    private static string NewId() => Guid.NewGuid().ToString("N");

    /// <summary>
    /// The time, to the microsecond: what PostgreSQL keeps, so a time sent in an event reads
    /// back identical after the conversation reloads from the store.
    /// </summary>
    private DateTimeOffset Now()
    {
        var now = clock.GetUtcNow();
        return now.AddTicks(-(now.Ticks % 10));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reply {MessageId} was interrupted by a restart and ended failed")]
    private partial void LogInterrupted(string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reply {MessageId} ends failed: its conversation is deactivating ({Reason}: {Description})")]
    private partial void LogDeactivatedMidReply(string messageId, DeactivationReasonCode reason, string description);

    [LoggerMessage(Level = LogLevel.Error, Message = "Conversation {ConversationId}: stored event {EventId} ({Type}) cannot be parsed; replay now starts after it, and clients resuming from before it get reset")]
    private partial void LogPoisonEvent(string conversationId, long eventId, string type);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing events from {FirstId} failed; hosts will backfill from the grain")]
    private partial void LogPublishFailed(Exception ex, long firstId);
}
