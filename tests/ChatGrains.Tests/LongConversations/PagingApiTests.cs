using System.Text.Json;
using ChatGrains.Storage;
using ChatGrains.Tests.Api;
using Microsoft.Extensions.DependencyInjection;
using static ChatGrains.Tests.LongConversations.LongConversation;

namespace ChatGrains.Tests.LongConversations;

/// <summary>The service with a memory window of 4 messages, so that paging reaches into the store at once.</summary>
public sealed class PagingServiceFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Conversation:RecentMessages"] = "4",
        ["Generator:TokensPerSecond"] = "50",
    };

    public IConversationStore Store => Server.Services.GetRequiredService<IConversationStore>();
}

/// <summary>Snapshot limits and pages of older messages over a real socket.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class PagingApiTests(PagingServiceFixture fixture) : IClassFixture<PagingServiceFixture>
{
    private readonly ApiServer _server = fixture.Server;

    private async Task<string> SeededAsync(ApiUser owner, int count)
    {
        var id = Guid.NewGuid().ToString("N");
        await SeedAsync(fixture.Store, id, new Caller(owner.UserId, owner.Name), count);
        return id;
    }

    [Fact]
    public async Task A_snapshot_holds_the_latest_limit_and_pages_before_walk_back_to_the_first_message()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await SeededAsync(ada, 25);

        var snapshot = await ada.GetSnapshotAsync(id, "?limit=10").OkJsonAsync();
        var older = await ada.GetMessagesAsync(id, $"?before={Id(16)}&limit=10").OkJsonAsync();
        var first = await ada.GetMessagesAsync(id, $"?before={Id(6)}&limit=10").OkJsonAsync();
        var latest = await ada.GetMessagesAsync(id, "?limit=3").OkJsonAsync();
        var whole = await ada.GetSnapshotAsync(id, "").OkJsonAsync();

        Assert.Equal(Enumerable.Range(16, 10).Select(Id), snapshot.MessageIds());
        Assert.True(snapshot.HasMore());
        Assert.Equal(25, snapshot.GetProperty("lastEventId").GetInt64());
        Assert.Equal(Id(24), snapshot.GetProperty("head").GetString());
        Assert.Equal(Enumerable.Range(6, 10).Select(Id), older.MessageIds());
        Assert.True(older.HasMore());
        Assert.Equal(Enumerable.Range(1, 5).Select(Id), first.MessageIds());
        Assert.False(first.HasMore());
        Assert.Equal(Enumerable.Range(23, 3).Select(Id), latest.MessageIds());
        Assert.Equal(Enumerable.Range(1, 25).Select(Id), whole.MessageIds());
        Assert.False(whole.HasMore());
        Assert.Equal(["id", "title", "ownerId", "createdAt", "members", "messages", "lastEventId", "head", "hasMore"],
            snapshot.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["messages", "hasMore"], older.EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=1001")]
    [InlineData("?limit=-1")]
    [InlineData("?limit=ten")]
    [InlineData("?limit=")]
    [InlineData("?limit=1.5")]
    [InlineData("?limit=5&limit=6")]
    public async Task A_limit_that_is_not_1_to_1000_is_400_on_both_routes_and_404_to_a_non_member(string query)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var mallory = await _server.SignInAsync("Mallory");
        var id = await SeededAsync(ada, 6);

        await Problems.AssertAsync(await ada.GetSnapshotAsync(id, query), 400, $"snapshot {query}");
        await Problems.AssertAsync(await ada.GetMessagesAsync(id, query), 400, $"messages {query}");
        await Problems.AssertAsync(await mallory.GetSnapshotAsync(id, query), 404, $"snapshot {query} (non-member)");
        await Problems.AssertAsync(await mallory.GetMessagesAsync(id, query), 404, $"messages {query} (non-member)");
    }

    [Fact]
    public async Task An_unknown_before_is_404_and_the_pages_are_404_to_a_non_member()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var mallory = await _server.SignInAsync("Mallory");
        var id = await SeededAsync(ada, 6);

        await Problems.AssertAsync(await ada.GetMessagesAsync(id, "?before=nope"), 404, "unknown before");
        await Problems.AssertAsync(await mallory.GetMessagesAsync(id, ""), 404, "non-member");
        await Problems.AssertAsync(await mallory.GetMessagesAsync(id, $"?before={Id(3)}"), 404, "non-member with before");
        await Problems.AssertAsync(await ada.GetMessagesAsync("nope", ""), 404, "unknown conversation");
    }

    [Fact]
    public async Task A_page_taken_while_a_reply_streams_plus_the_events_after_its_lastEventId_is_the_current_state()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await SeededAsync(ada, 30);
        var posted = await ada.PostAcceptedAsync(id, "a new prompt after a long history");
        var replyId = posted.GetProperty("assistantMessageId").GetString()!;

        var snapshot = await ada.GetSnapshotAsync(id, "?limit=6").OkJsonAsync();
        var held = snapshot.Held();
        await using var watch = await ada.WatchAsync(id, snapshot.GetProperty("lastEventId").GetInt64());
        await watch.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replyId, TimeSpan.FromSeconds(60));
        var applied = PagingRequests.Apply(held, watch.Events);
        var current = await ada.GetSnapshotAsync(id, $"?limit={applied.Count}").OkJsonAsync();

        Assert.Contains(held, m => m.Id == replyId && m.Status is MessageStatus.Streaming or MessageStatus.Queued);
        Assert.Equal(current.Held(), applied);
        Assert.Equal(MessageStatus.Complete, applied[^1].Status);
        Assert.True(current.HasMore());
    }
}
