using System.Net;
using System.Text;

namespace ChatGrains.Tests.Api;

/// <summary>The POST-initiated and watch event streams, over a real socket, read with a real SSE parser.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class StreamingTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task Three_watchers_see_identical_event_sequences()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var watchers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ada.WatchAsync(id, lastEventId: 0)));

        await using var post = await ada.PostAsync(id, "Tell me about grains");
        var reply = (await post.ReadToEndAsync()).Last();
        Assert.Equal("message.completed", reply.Type);

        var sequences = new List<string[]>();
        foreach (var w in watchers)
        {
            await w.ReadUntilAsync(e => e.Type == "message.completed");
            sequences.Add(w.Events.Select(e => $"{e.Id}|{e.Type}|{e.Data.GetRawText()}").ToArray());
            await w.DisposeAsync();
        }
        Assert.Equal(sequences[0], sequences[1]);
        Assert.Equal(sequences[0], sequences[2]);
        Assert.Equal(Enumerable.Range(1, watchers[0].Events.Count).Select(i => (long?)i), watchers[0].Events.Select(e => e.Id));
        Assert.Equal(post.Events.Select(e => e.Id), watchers[0].Events.Select(e => e.Id));
    }

    [Fact]
    public async Task Stream_starts_with_retry_and_has_the_contract_headers()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var post = await ada.PostAsync(id, "Headers please");
        await post.ReadToEndAsync();

        Assert.Equal(HttpStatusCode.OK, post.Response.StatusCode);
        Assert.Equal("no-cache", post.Response.Headers.CacheControl?.ToString());
        Assert.Equal("no", post.Response.Headers.GetValues("X-Accel-Buffering").Single());
        Assert.True(post.Parser.ReconnectionInterval > TimeSpan.Zero, "the stream should start with a retry: line");
    }

    [Fact]
    public async Task Resume_mid_reply_with_last_event_id_has_no_gap_and_no_duplicate()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var reference = await ada.WatchAsync(id, lastEventId: 0);
        var posted = await ada.PostAcceptedAsync(id, "A long story, please");
        var replyId = posted.GetProperty("assistantMessageId").GetString();

        var first = await ada.WatchAsync(id, lastEventId: 0);
        var deltas = 0;
        var lastSeen = await first.ReadUntilAsync(e => e.Type == "message.delta" && ++deltas == 3);
        await first.DisposeAsync(); // the connection drops mid-reply

        await using var resumed = await ada.WatchAsync(id, lastEventId: lastSeen.Id);
        await resumed.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replyId);
        await reference.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replyId);

        var stitched = first.Events.Concat(resumed.Events).Select(e => e.Id).ToList();
        Assert.Equal(reference.Events.Select(e => e.Id), stitched);
        var text = string.Concat(first.Events.Concat(resumed.Events).Select(e => e.Delta));
        Assert.Equal(resumed.Events.Last().Data.GetProperty("content").GetString(), text);
    }

    [Fact]
    public async Task Resuming_well_behind_a_live_feed_replays_everything_after_the_resume_point()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var keepsTheFeed = await ada.WatchAsync(id, 0);
        await using (var post = await ada.PostAsync(id, "fill the feed")) await post.ReadToEndAsync();
        var last = await ada.LastEventIdAsync(id);
        await keepsTheFeed.ReadUntilAsync(e => e.Id == last);

        await using var late = await ada.WatchAsync(id, lastEventId: 3);
        while (late.Events.Count == 0 || late.Events[^1].Id < last) await late.NextAsync();
        Assert.Equal(Enumerable.Range(4, (int)last - 3).Select(i => (long?)i), late.Events.Select(e => e.Id));
    }

    [Fact]
    public async Task Retried_post_with_the_same_idempotency_key_resumes_and_posts_nothing()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var key = Guid.NewGuid().ToString();

        var first = await ada.PostAsync(id, "Retry me", key);
        var deltas = 0;
        var lastSeen = await first.ReadUntilAsync(e => e.Type == "message.delta" && ++deltas == 2);
        await first.DisposeAsync(); // the network drops; fetch-event-source re-sends the same POST

        await using var retry = await ada.PostAsync(id, "Retry me", key, lastEventId: lastSeen.Id);
        await retry.ReadToEndAsync();
        Assert.Equal(lastSeen.Id + 1, retry.Events[0].Id);
        Assert.Equal("message.completed", retry.Events[^1].Type);
        var ids = first.Events.Concat(retry.Events).Select(e => e.Id!.Value).ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);

        // Without a resume point the retry replays the exchange from its start.
        await using var replay = await ada.PostAsync(id, "Retry me", key);
        await replay.ReadToEndAsync();
        Assert.Equal(ids, replay.Events.Select(e => e.Id!.Value));

        // At or past the reply's completion there is nothing left: the stream ends at once.
        await using var after = await ada.PostAsync(id, "Retry me", key, lastEventId: ids[^1]);
        Assert.Empty(await after.ReadToEndAsync());

        var snapshot = await ada.SnapshotAsync(id);
        Assert.Equal(2, snapshot.GetProperty("messages").GetArrayLength());
        Assert.Equal(ids[^1], snapshot.GetProperty("lastEventId").GetInt64());
    }

    [Fact]
    public async Task Cancel_by_any_member_stops_the_reply_for_every_watcher()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var from = await ada.LastEventIdAsync(id);
        await using var adaWatch = await ada.WatchAsync(id, from);
        await using var bobWatch = await bob.WatchAsync(id, from);

        var posted = await ada.PostAcceptedAsync(id, "Go on and on");
        var replyId = posted.GetProperty("assistantMessageId").GetString()!;
        await bobWatch.ReadUntilAsync(e => e.Type == "message.delta");
        var cancel = await bob.CancelAsync(id, replyId);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);

        foreach (var watch in new[] { adaWatch, bobWatch })
        {
            var end = await watch.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replyId);
            Assert.Equal("cancelled", end.Status);
            Assert.Equal(string.Concat(watch.Events.Where(e => e.MessageId == replyId).Select(e => e.Delta)), end.Data.GetProperty("content").GetString());
        }
        var message = (await ada.SnapshotAsync(id)).GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("id").GetString() == replyId);
        Assert.Equal("cancelled", message.GetProperty("status").GetString());

        // The conversation goes on.
        await using var next = await ada.PostAsync(id, "And now?");
        Assert.Equal("complete", (await next.ReadToEndAsync()).Last().Status);
    }

    [Fact]
    public async Task Prompts_posted_while_a_reply_streams_are_queued_and_answered_in_order()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var watch = await ada.WatchAsync(id, 0);
        var replies = new List<string>();
        foreach (var prompt in new[] { "first", "second", "third" })
            replies.Add((await ada.PostAcceptedAsync(id, prompt)).GetProperty("assistantMessageId").GetString()!);

        var completed = new List<string>();
        while (completed.Count < 3)
        {
            var e = await watch.ReadUntilAsync(e => e.Type == "message.completed");
            completed.Add(e.MessageId!);
        }
        Assert.Equal(replies, completed);

        var created = watch.Events.Where(e => e.Type == "message.created" && replies.Contains(e.MessageId!)).ToList();
        Assert.Equal(["streaming", "queued", "queued"], created.Select(e => e.Status));
        // A queued reply's first delta comes only after the previous reply completed.
        for (var i = 1; i < 3; i++)
        {
            var previousEnd = watch.Events.Single(e => e.Type == "message.completed" && e.MessageId == replies[i - 1]).Id;
            var firstDelta = watch.Events.First(e => e.Type == "message.delta" && e.MessageId == replies[i]).Id;
            Assert.True(firstDelta > previousEnd, $"reply {i + 1} started before reply {i} ended");
        }
        var statuses = (await ada.SnapshotAsync(id)).GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("status").GetString());
        Assert.All(statuses, s => Assert.Equal("complete", s));
    }

    [Fact]
    public async Task A_resume_point_ahead_of_the_server_gets_reset_without_an_id()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var post = await ada.PostAsync(id, "Something to count")) await post.ReadToEndAsync();
        var last = await ada.LastEventIdAsync(id);

        await using var watch = await ada.WatchAsync(id, lastEventId: last + 100);
        var events = await watch.ReadToEndAsync();
        var reset = Assert.Single(events);
        Assert.Equal("reset", reset.Type);
        Assert.Null(reset.Id);
        Assert.Equal(last, reset.Data.GetProperty("lastEventId").GetInt64());
    }

    [Fact]
    public async Task Native_event_source_can_watch_with_get_and_query_parameters()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using (var post = await ada.PostAsync(id, "Hello")) await post.ReadToEndAsync();

        using var anonymous = _server.CreateSocketClient();
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/conversations/{id}/events?lastEventId=0&access_token={ada.Token}");
        await using var watch = await EventStreamReader.OpenAsync(anonymous, request);
        var end = await watch.ReadUntilAsync(e => e.Type == "message.completed");
        Assert.Equal(1, watch.Events[0].Id);
        Assert.Equal(await ada.LastEventIdAsync(id), end.Id);
    }

    [Fact]
    public async Task The_reply_keeps_generating_when_every_client_has_gone()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var post = await ada.PostAsync(id, "Keep going without me");
        await post.ReadUntilAsync(e => e.Type == "message.delta");
        await post.DisposeAsync();

        var reply = await Infrastructure.Eventually.Until(
            async () => (await ada.SnapshotAsync(id)).GetProperty("messages")[1],
            m => m.GetProperty("status").GetString() == "complete",
            TimeSpan.FromSeconds(30), "the abandoned reply completes");
        Assert.True(Encoding.UTF8.GetByteCount(reply.GetProperty("content").GetString()!) > 100);
    }
}
