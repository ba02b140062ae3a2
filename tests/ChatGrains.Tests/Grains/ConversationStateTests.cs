using ChatGrains.Conversation;
using ChatGrains.Storage;

namespace ChatGrains.Tests.Grains;

/// <summary>A reply's text as it streams: what a snapshot shows mid-reply and what is stored at its end.</summary>
[Trait("Category", TestCategory.Unit)]
public sealed class ConversationStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_streaming_reply_reads_as_the_concatenation_of_its_deltas_and_is_stored_whole_when_it_completes()
    {
        var state = ConversationState.New(new ConversationInfo("c", "Title", "ada", Now), new Caller("ada", "Ada"));
        state.AddMessage(new Message("p", Roles.User, "ada", "Ada", "Hello?", MessageStatus.Complete, null, Now));
        state.AddMessage(new Message("r", Roles.Assistant, "assistant", "Assistant", "", MessageStatus.Queued, "p", Now));
        state.TakeCommit(Now, 10_000);

        var deltas = Enumerable.Range(0, 500).Select(i => $"token{i} ").ToList();
        foreach (var d in deltas.Take(250)) state.AppendDelta("r", d);

        var midway = state.ToSnapshot().Messages.Single(m => m.Id == "r");
        Assert.Equal(string.Concat(deltas.Take(250)), midway.Content);
        Assert.Equal(MessageStatus.Streaming, midway.Status);
        Assert.Equal(string.Concat(deltas.Take(250)), state.FindMessage("r")!.Message.Content);

        foreach (var d in deltas.Skip(250)) state.AppendDelta("r", d);
        state.CompleteMessage("r", new ReplyOutcome(MessageStatus.Complete));
        var commit = state.TakeCommit(Now, 10_000)!;

        var stored = Assert.Single(commit.Messages, m => m.Message.Id == "r");
        Assert.Equal(string.Concat(deltas), stored.Message.Content);
        Assert.Equal(MessageStatus.Complete, stored.Message.Status);
        Assert.Equal(string.Concat(deltas), state.ToSnapshot().Messages.Single(m => m.Id == "r").Content);
        Assert.Contains(commit.Events, e => e.Type == EventTypes.MessageCompleted && e.Data.Contains(string.Concat(deltas)));
    }
}
