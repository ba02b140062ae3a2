using ChatGrains.Tests.Infrastructure;
using Orleans.Runtime;
using static ChatGrains.Tests.Grains.ConversationGrainTests;

namespace ChatGrains.Tests.Grains;

/// <summary>Token budgets on a two-silo cluster whose budget is one token a day: every reply puts its payer over.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class BudgetGrainTests(BudgetCluster cluster) : IClassFixture<BudgetCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_reply_is_charged_to_who_posted_its_prompt_also_when_it_waited_behind_another_users_reply()
    {
        var (ada, bob) = (NewCaller("Ada"), NewCaller("Bob"));
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        await grain.CreateAsync(ada, "who pays");
        await grain.JoinAsync(bob, await grain.CreateInviteAsync(ada.UserId));

        var adas = await grain.PostAsync(ada, "first", null);
        var bobs = await grain.PostAsync(bob, "second, queued behind Ada's", null);
        var log = await CompletionsAsync(id, 2);

        var snapshot = await grain.GetSnapshotAsync(ada.UserId);
        Assert.Equal(MessageStatus.Queued, Created(log, bobs.AssistantMessageId).Status);
        var adasUsage = snapshot.Messages.Single(m => m.Id == adas.AssistantMessageId).Usage!;
        var bobsUsage = snapshot.Messages.Single(m => m.Id == bobs.AssistantMessageId).Usage!;
        Assert.Equal((adasUsage.PromptTokens, adasUsage.CompletionTokens), Tokens(await cluster.User(ada.UserId).GetUsageAsync()));
        Assert.Equal((bobsUsage.PromptTokens, bobsUsage.CompletionTokens), Tokens(await cluster.User(bob.UserId).GetUsageAsync()));
        // Bob's prompt followed Ada's exchange: the model saw more, and Bob paid for it, not Ada.
        Assert.True(bobsUsage.PromptTokens > adasUsage.PromptTokens);
    }

    [Fact]
    public async Task At_the_budget_posting_is_refused_with_nothing_created_until_the_next_UTC_midnight_but_a_retry_is_answered()
    {
        var ada = NewCaller("Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = cluster.Conversation(id);
        cluster.Clock.Set(new DateTimeOffset(2031, 3, 4, 23, 59, 30, TimeSpan.Zero));
        try
        {
            await grain.CreateAsync(ada, "budget");
            var first = await grain.PostAsync(ada, "one reply a day", "key-1");
            var log = await CompletionsAsync(id, 1);

            var refused = await Assert.ThrowsAsync<ConversationException>(() => grain.PostAsync(ada, "another", "key-2"));
            Assert.Equal(ConversationErrorKind.OverBudget, refused.Kind);
            Assert.Equal(new DateTimeOffset(2031, 3, 5, 0, 0, 0, TimeSpan.Zero), refused.ResetsAt);
            Assert.InRange(refused.RetryAfterSeconds, 1, 30);
            Assert.Equal(log[^1].Id, (await grain.GetHeadAsync(ada.UserId)).LastEventId);
            // The first exchange's retry creates nothing and is answered as before, even over budget.
            Assert.Equal((first.UserMessageId, first.AssistantMessageId), Ids(await grain.PostAsync(ada, "one reply a day", "key-1")));

            cluster.Clock.Set(new DateTimeOffset(2031, 3, 5, 0, 0, 5, TimeSpan.Zero));
            var today = await cluster.User(ada.UserId).GetUsageAsync();
            Assert.Equal((0, 0, 1L, new DateTimeOffset(2031, 3, 6, 0, 0, 0, TimeSpan.Zero)), (today.PromptTokens, today.CompletionTokens, today.Limit, today.ResetsAt));
            await grain.PostAsync(ada, "a new day", null);
            await CompletionsAsync(id, 2);
        }
        finally
        {
            cluster.Clock.Reset();
        }
    }

    private async Task<List<ConversationEvent>> CompletionsAsync(string id, int count) =>
        await Eventually.Until(() => cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageCompleted) >= count, Wait, $"{count} replies complete");

    internal static Message Created(IEnumerable<ConversationEvent> log, string messageId) =>
        log.Where(e => e.Type == EventTypes.MessageCreated)
            .Select(e => System.Text.Json.JsonSerializer.Deserialize(e.Data, ChatJson.Wire.MessageCreatedData)!.Message)
            .Single(m => m.Id == messageId);

    internal static (int, int) Tokens(TokenUsage usage) => (usage.PromptTokens, usage.CompletionTokens);

    private static (string, string) Ids(PostReceipt receipt) => (receipt.UserMessageId, receipt.AssistantMessageId);

    internal static Caller NewCaller(string name) => new(Guid.NewGuid().ToString("N"), name);
}

/// <summary>A charge outlives the silos that made it: it is stored with the reply's completion.</summary>
[Trait("Category", TestCategory.Grains)]
public sealed class BudgetSiloKillTests : IAsyncLifetime
{
    private readonly BudgetCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task A_charge_survives_killing_the_silos_of_the_conversation_and_the_user_right_after_the_reply_ends()
    {
        var ada = BudgetGrainTests.NewCaller("Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Conversation(id);
        await grain.CreateAsync(ada, "kill");
        var receipt = await grain.PostAsync(ada, "charge me", null);
        await _cluster.User(ada.UserId).GetUsageAsync(); // the user grain is active somewhere
        var log = await Eventually.Until(() => _cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageCompleted),
            TimeSpan.FromSeconds(30), "the reply completes");
        var usage = Completed(log.Single(e => e.Type == EventTypes.MessageCompleted)).Usage!;

        await _cluster.Cluster.StartAdditionalSiloAsync();
        var management = _cluster.Cluster.Client.GetGrain<IManagementGrain>(0);
        var hosts = new List<SiloAddress?> { await management.GetActivationAddress(grain), await management.GetActivationAddress(_cluster.User(ada.UserId)) };
        foreach (var host in _cluster.Cluster.Silos.Where(s => hosts.Contains(s.SiloAddress)).ToList())
            await _cluster.Cluster.KillSiloAsync(host);

        var after = await Eventually.Until(async () =>
        {
            try { return await _cluster.User(ada.UserId).GetUsageAsync(); }
            catch (Exception) { return null; } // the dead silos are still being declared dead
        }, u => u is not null, TimeSpan.FromSeconds(60), "the user grain answers again");
        Assert.Equal((usage.PromptTokens, usage.CompletionTokens), BudgetGrainTests.Tokens(after!));
        var refused = await Assert.ThrowsAsync<ConversationException>(() => grain.PostAsync(ada, "still over", null));
        Assert.Equal(ConversationErrorKind.OverBudget, refused.Kind);
        Assert.Equal(receipt.AssistantMessageId, (await grain.GetSnapshotAsync(ada.UserId)).Messages[^1].Id);
    }

    [Fact]
    public async Task A_reply_interrupted_by_a_silo_kill_is_charged_with_what_it_was_shown_and_streamed()
    {
        var ada = BudgetGrainTests.NewCaller("Ada");
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Conversation(id);
        await grain.CreateAsync(ada, "kill mid-reply");
        var receipt = await grain.PostAsync(ada, "a long answer please", null);
        await Eventually.Until(() => _cluster.LogAsync(id), l => l.Count(e => e.Type == EventTypes.MessageDelta) >= 2,
            TimeSpan.FromSeconds(10), "the reply streams");

        var address = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address)));

        var log = await Eventually.Until(async () =>
        {
            try { return await _cluster.LogAsync(id); }
            catch (Exception) { return []; } // the dead silo is still being declared dead
        }, l => l.Any(e => e.Type == EventTypes.MessageCompleted), TimeSpan.FromSeconds(60), "the interrupted reply ends");
        var failed = Completed(log.Single(e => e.Type == EventTypes.MessageCompleted));
        Assert.Equal((receipt.AssistantMessageId, MessageStatus.Failed), (failed.MessageId, failed.Status));
        Assert.True(failed.Usage is { PromptTokens: > 0, CompletionTokens: > 0 }, $"{failed.Usage}");
        Assert.Equal((failed.Usage.PromptTokens, failed.Usage.CompletionTokens), BudgetGrainTests.Tokens(await _cluster.User(ada.UserId).GetUsageAsync()));
    }

    [Fact]
    public async Task An_interrupted_reply_on_a_new_branch_is_charged_for_its_own_path_not_the_other_branches()
    {
        // Two users of the same name (the model sees it), as each has a budget of one reply.
        var (ada, other) = (BudgetGrainTests.NewCaller("Ada"), BudgetGrainTests.NewCaller("Ada"));
        var id = Guid.NewGuid().ToString("N");
        var grain = _cluster.Conversation(id);
        await grain.CreateAsync(other, "kill mid-branch");
        await grain.JoinAsync(ada, await grain.CreateInviteAsync(other.UserId));
        await grain.PostAsync(other, "a long answer please", null);
        var done = await Eventually.Until(() => _cluster.LogAsync(id), l => l.Any(e => e.Type == EventTypes.MessageCompleted),
            TimeSpan.FromSeconds(60), "the first reply completes");
        var whole = Completed(done.Single(e => e.Type == EventTypes.MessageCompleted)).Usage!;

        // The same prompt as a new first prompt: the model is shown only it, as the first reply was.
        var receipt = await grain.PostAsync(ada, "a long answer please", null, PromptParent.Root);
        await Eventually.Until(() => _cluster.LogAsync(id),
            l => l.Count(e => e.Type == EventTypes.MessageDelta && e.Id > receipt.EventId) >= 2, TimeSpan.FromSeconds(10), "the branch streams");
        var address = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address)));

        var log = await Eventually.Until(async () =>
        {
            try { return await _cluster.LogAsync(id); }
            catch (Exception) { return []; } // the dead silo is still being declared dead
        }, l => l.Count(e => e.Type == EventTypes.MessageCompleted) == 2, TimeSpan.FromSeconds(60), "the interrupted reply ends");
        var failed = Completed(log.Last(e => e.Type == EventTypes.MessageCompleted));
        Assert.Equal((receipt.AssistantMessageId, MessageStatus.Failed), (failed.MessageId, failed.Status));
        Assert.Equal(whole.PromptTokens, failed.Usage!.PromptTokens);
    }
}
