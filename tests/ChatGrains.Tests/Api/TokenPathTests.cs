using System.Diagnostics.Metrics;
using System.Text;
using ChatGrains.Api.EventStream;
using ChatGrains.Api.Feeds;
using ChatGrains.Conversation;
using ChatGrains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;

namespace ChatGrains.Tests.Api;

/// <summary>
/// The pieces of the token path on their own, without a cluster: the message fields typed on an
/// event, the one rule that decides <c>reset</c>, and a feed's fan-out as its follower drives it.
/// </summary>
[Trait("Category", TestCategory.Unit)]
public sealed class TokenPathTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Message_events_carry_their_message_id_and_reply_step_typed_and_the_store_shape_gets_the_same_back()
    {
        var state = ConversationState.New(new ConversationInfo("c", "Title", "ada", Now), new Caller("ada", "Ada"));
        state.AddMessage(new Message("p", Roles.User, "ada", "Ada", "Hello?", MessageStatus.Complete, null, Now));
        state.AddMessage(new Message("r", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Queued, "p", Now));
        state.AddMessage(new Message("q", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Queued, "p", Now));
        state.AppendDelta("r", "Hi");
        state.CompleteMessage("r", new ReplyOutcome(MessageStatus.Complete));
        state.Delete();
        var events = state.TakeCommit(Now, 10_000)!.Events;

        var facts = events.Select(e => (e.Type, e.MessageId, e.Reply)).ToList();
        Assert.Contains((EventTypes.MessageCreated, "p", ReplyStep.None), facts);
        Assert.Contains((EventTypes.MessageCreated, "r", ReplyStep.Opened), facts);
        Assert.Contains((EventTypes.MessageDelta, "r", ReplyStep.None), facts);
        Assert.Contains((EventTypes.MessageCompleted, "r", ReplyStep.Ended), facts);
        Assert.Contains((EventTypes.MessageCompleted, "q", ReplyStep.EndedByDelete), facts);
        Assert.Contains((EventTypes.ConversationDeleted, (string?)null, ReplyStep.None), facts);

        // What the store gives back (id, type and data only) gets the same fields from its data.
        foreach (var e in events) Assert.Equal(e, new ConversationEvent(e.Id, e.Type, e.Data).WithMessageFields());
    }

    [Fact]
    public void The_typed_fields_travel_on_the_wire_and_frames_use_them()
    {
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(ConversationEvent).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();
        var completed = ConversationEvent.Create(7, EventTypes.MessageCompleted,
            new MessageCompletedData("r", MessageStatus.Cancelled, "", MessageCompletedData.DeletedError), ChatJson.Wire.MessageCompletedData) with { SentAtTicks = 42 };

        var copy = serializer.Deserialize<ConversationEvent>(serializer.SerializeToArray(completed));

        Assert.Equal(completed, copy);
        var frame = Frame.From(copy!);
        Assert.Equal("r", frame.CompletedMessageId);
        Assert.True(frame.CompletedByDelete);
        // An event of a build before the typed fields: read from its data, once, at the frame.
        var old = Frame.From(new ConversationEvent(7, completed.Type, completed.Data));
        Assert.Equal(("r", true), (old.CompletedMessageId, old.CompletedByDelete));
    }

    [Fact]
    public void Reset_is_decided_by_where_the_position_lies_against_the_log()
    {
        Assert.Null(ResetRule.ResetFor(null, 10));
        Assert.Null(ResetRule.ResetFor(10, 10));
        Assert.Contains("\"lastEventId\":10", Text(ResetRule.ResetFor(11, 10)!));

        var page = new EventPage([], LastEventId: 50, FirstAvailableId: 21, ReplyInProgress: false);
        Assert.Null(ResetRule.ResetFor(20, page));
        Assert.Null(ResetRule.ResetFor(50, page));
        var behind = ResetRule.ResetFor(19, page)!;
        Assert.Equal((0L, EventTypes.Reset), (behind.Id, EventLine(behind)));
        Assert.Contains("\"lastEventId\":50", Text(behind));
        Assert.NotNull(ResetRule.ResetFor(51, page));
    }

    [Fact]
    public void The_fan_out_queues_recent_frames_for_a_resume_sends_older_ones_to_the_grain_and_resets_every_watcher()
    {
        var (feed, sink) = Feed(recentEvents: 2);
        for (var id = 1; id <= 3; id++) sink.Deliver(Updated(id), repliesOpen: false);

        var live = new Watcher(16, () => { });
        Assert.Equal(new Attachment(3, 0), feed.Attach(live, null));
        var recent = new Watcher(16, () => { });
        Assert.Equal(new Attachment(1, 0), feed.Attach(recent, 1));
        Assert.Equal([2L, 3L], Drain(recent).Select(f => f.Id));
        var old = new Watcher(16, () => { });
        Assert.Equal(new Attachment(0, 3), feed.Attach(old, 0));
        Assert.Empty(Drain(old));

        sink.Deliver(Updated(4), repliesOpen: false);
        Assert.Equal([4L], Drain(live).Select(f => f.Id));
        sink.Reset(Frame.Reset(100), 100);

        foreach (var w in new[] { live, recent, old })
        {
            Assert.Equal(EventTypes.Reset, EventLine(Assert.Single(Drain(w), f => f.Id == 0)));
            Assert.True(w.Frames.Completion.IsCompleted);
        }
        Assert.Equal(0, feed.WatcherCount);
        Assert.Equal(new Attachment(100, 0), feed.Attach(new Watcher(16, () => { }), null));
    }

    [Fact]
    public void Recent_frames_serve_a_resume_point_by_its_id_as_the_ring_wraps_and_refuse_one_no_longer_kept()
    {
        var recent = new RecentFrames(capacity: 5);
        Assert.False(recent.TryOffer(0, new Watcher(16, () => { })));
        for (var id = 1; id <= 23; id++) recent.Add(Frame.From(Updated(id))); // wrapped four times: 19..23 kept

        var watcher = new Watcher(16, () => { });
        Assert.True(recent.TryOffer(20, watcher));
        Assert.Equal([21L, 22L, 23L], Drain(watcher).Select(f => f.Id));
        Assert.True(recent.TryOffer(18, watcher));
        Assert.Equal([19L, 20L, 21L, 22L, 23L], Drain(watcher).Select(f => f.Id));
        Assert.False(recent.TryOffer(17, watcher)); // 18 is gone: the grain must serve it
        Assert.False(recent.TryOffer(23, watcher)); // nothing after the latest
        Assert.Empty(Drain(watcher));

        recent.Add(Frame.From(Updated(30))); // not the next id: what was kept no longer follows on
        Assert.False(recent.TryOffer(22, watcher));
        Assert.True(recent.TryOffer(29, watcher));
        Assert.Equal([30L], Drain(watcher).Select(f => f.Id));
    }

    [Fact]
    public void A_deleted_log_closes_its_watchers_after_the_deletion_and_new_ones_at_once()
    {
        var (feed, sink) = Feed(recentEvents: 8);
        var watcher = new Watcher(16, () => { });
        feed.Attach(watcher, null);
        sink.Deliver(new ConversationEvent(1, EventTypes.ConversationDeleted, "{}"), repliesOpen: false);

        Assert.True(Assert.Single(Drain(watcher)).EndsLog);
        Assert.True(watcher.Frames.Completion.IsCompleted);
        var late = new Watcher(16, () => { });
        feed.Attach(late, 0);
        Assert.True(late.Frames.Completion.IsCompleted);
    }

    private static (EventFeed Feed, ILogSink Sink) Feed(int recentEvents)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        // The follower is never started: these calls stand in for it.
        var feed = new EventFeed(FeedSource.Conversation("c"), null!, new FeedOptions { RecentEvents = recentEvents },
            new FeedMetrics(meters), NullLogger.Instance);
        return (feed, feed);
    }

    private static ConversationEvent Updated(long id) =>
        ConversationEvent.Create(id, EventTypes.ConversationUpdated, new ConversationUpdatedData($"Title {id}"), ChatJson.Wire.ConversationUpdatedData);

    private static List<Frame> Drain(Watcher watcher)
    {
        var frames = new List<Frame>();
        while (watcher.Frames.TryRead(out var f)) frames.Add(f);
        return frames;
    }

    private static string Text(Frame frame) => Encoding.UTF8.GetString(frame.Bytes);

    private static string EventLine(Frame frame) =>
        Text(frame).Split('\n').Single(l => l.StartsWith("event: ", StringComparison.Ordinal))["event: ".Length..];
}
