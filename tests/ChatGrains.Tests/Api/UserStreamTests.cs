using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>The user's own stream, the list items and read positions, over a real socket with a real SSE parser.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class UserStreamTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task The_users_stream_gets_added_when_they_create_or_join_and_updated_on_activity()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        await using var adas = await ada.WatchMeAsync(lastEventId: 0); // 0 is valid on an empty stream
        await using var bobs = await bob.WatchMeAsync(lastEventId: 0);

        var id = await ada.CreateConversationAsync("shared");
        var created = await adas.ReadUntilAsync(e => e.Type == "conversation.added");
        Assert.Equal((1L, id, "owner", 0), (created.Id, Str(created, "id"), Str(created, "role"), Int(created, "unread")));

        await ada.ShareWithAsync(id, bob);
        var joined = await bobs.ReadUntilAsync(e => e.Type == "conversation.added");
        Assert.Equal((1L, id, "member", "shared", ada.UserId), (joined.Id, Str(joined, "id"), Str(joined, "role"), Str(joined, "title"), Str(joined, "ownerId")));

        await using (var post = await ada.PostAsync(id, "hello bob")) await post.ReadToEndAsync();
        // Ada's prompt and its reply are unread for Bob; the last change (the reply's end) always arrives.
        var item = await bob.ItemAsync(id);
        Assert.Equal(2, item.GetProperty("unread").GetInt32());
        var update = await bobs.ReadUntilAsync(e => e.Type == "conversation.updated"
            && e.Data.GetProperty("lastActivityAt").GetDateTimeOffset() == item.GetProperty("lastActivityAt").GetDateTimeOffset());
        Assert.Equal((id, 2), (Str(update, "id"), Int(update, "unread")));
        var ids = bobs.Events.Select(e => e.Id!.Value).ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
    }

    [Fact]
    public async Task The_users_stream_gets_removed_when_they_leave_are_removed_or_the_conversation_is_deleted()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var (left, removed, deleted) = (await ada.CreateConversationAsync("left"), await ada.CreateConversationAsync("removed"), await ada.CreateConversationAsync("deleted"));
        foreach (var id in new[] { left, removed, deleted }) await ada.ShareWithAsync(id, bob);
        await using var adas = await ada.WatchMeAsync(lastEventId: 0);
        await using var bobs = await bob.WatchMeAsync(lastEventId: 0);
        while (bobs.Events.Count(e => e.Type == "conversation.added") < 3) await bobs.NextAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.DeleteAsync($"/api/conversations/{left}/members/{bob.UserId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await ada.Http.DeleteAsync($"/api/conversations/{removed}/members/{bob.UserId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await ada.Http.DeleteAsync($"/api/conversations/{deleted}")).StatusCode);

        var reasons = new Dictionary<string, string>();
        while (reasons.Count < 3)
        {
            var e = await bobs.ReadUntilAsync(e => e.Type == "conversation.removed");
            reasons[Str(e, "id")] = Str(e, "reason");
        }
        Assert.Equal(new Dictionary<string, string> { [left] = "left", [removed] = "removed", [deleted] = "deleted" }, reasons);
        // The owner who deletes is told too.
        var ownDelete = await adas.ReadUntilAsync(e => e.Type == "conversation.removed");
        Assert.Equal((deleted, "deleted"), (Str(ownDelete, "id"), Str(ownDelete, "reason")));
        Assert.Empty(await bob.ListAsync());
        Assert.Equal(2, (await ada.ListAsync()).Length);

        // Replayed later, the deleted conversation's events no longer carry its title; the ids are all there.
        await using var replay = await bob.WatchMeAsync(lastEventId: 0);
        while (replay.Events.Count < bobs.Events.Count) await replay.NextAsync();
        Assert.Equal(bobs.Events.Select(e => e.Id), replay.Events.Select(e => e.Id));
        Assert.All(replay.Events.Where(e => e.Type != "conversation.removed" && Str(e, "id") == deleted), e => Assert.Equal("", Str(e, "title")));
        Assert.Contains(replay.Events, e => e.Type == "conversation.added" && Str(e, "id") == left && Str(e, "title") == "left");
    }

    [Fact]
    public async Task A_rename_by_another_member_reaches_the_owners_stream_as_an_update()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync("before");
        await ada.ShareWithAsync(id, bob);
        await using var adas = await ada.WatchMeAsync(lastEventId: 0);
        await adas.ReadUntilAsync(e => e.Type == "conversation.added");

        var rename = await bob.Http.PatchAsync($"/api/conversations/{id}", JsonContent.Create(new { title = "after" }));
        Assert.Equal(HttpStatusCode.OK, rename.StatusCode);

        var update = await adas.ReadUntilAsync(e => e.Type == "conversation.updated" && Str(e, "title") == "after");
        Assert.Equal(("owner", id), (Str(update, "role"), Str(update, "id")));
        Assert.Equal("after", (await ada.ItemAsync(id)).GetProperty("title").GetString());
    }

    [Fact]
    public async Task The_users_stream_resumes_from_Last_Event_ID_with_no_gap_or_duplicate_also_for_EventSource()
    {
        using var ada = await _server.SignInAsync("Ada");
        var first = new List<string>();
        await using (var stream = await ada.WatchMeAsync(lastEventId: 0))
        {
            for (var i = 0; i < 3; i++) first.Add(await ada.CreateConversationAsync($"c{i}"));
            while (stream.Events.Count(e => e.Type == "conversation.added") < 3) await stream.NextAsync();
            Assert.Equal([1L, 2L, 3L], stream.Events.Select(e => e.Id!.Value));
        }
        // Missed while away: two more.
        var missed = new[] { await ada.CreateConversationAsync("c3"), await ada.CreateConversationAsync("c4") };

        await using var resumed = await ada.WatchMeAsync(lastEventId: 3);
        var replayed = new[] { await resumed.NextAsync(), await resumed.NextAsync() };
        Assert.Equal([4L, 5L], replayed.Select(e => e!.Id!.Value));
        Assert.Equal(missed, replayed.Select(e => Str(e!, "id")));

        await using var eventSource = await ada.WatchMeWithEventSourceAsync(lastEventId: 4);
        Assert.Equal(5L, (await eventSource.NextAsync())!.Id);
        // And live events follow on both, once each.
        var live = await ada.CreateConversationAsync("c5");
        Assert.Equal((6L, live), await IdAndConversation(resumed));
        Assert.Equal((6L, live), await IdAndConversation(eventSource));
    }

    [Fact]
    public async Task A_resume_point_ahead_of_the_users_stream_gets_reset_with_the_latest_id()
    {
        using var ada = await _server.SignInAsync("Ada");
        await ada.CreateConversationAsync();
        await using (var stream = await ada.WatchMeAsync(lastEventId: 0)) await stream.ReadUntilAsync(e => e.Type == "conversation.added");

        await using var ahead = await ada.WatchMeAsync(lastEventId: 99);
        var events = await ahead.ReadToEndAsync();
        var reset = Assert.Single(events);
        Assert.Equal(("reset", (long?)null, 1L), (reset.Type, reset.Id, reset.Data.GetProperty("lastEventId").GetInt64()));
    }

    [Fact]
    public async Task List_items_carry_role_unread_and_read_position_which_a_read_moves_forward_only_and_clamps_to_the_latest()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync("read me");
        await ada.ShareWithAsync(id, bob);
        var joined = (await bob.ItemAsync(id)).GetProperty("lastReadEventId").GetInt64();
        await using (var post = await ada.PostAsync(id, "news")) await post.ReadToEndAsync();
        var latest = await ada.LastEventIdAsync(id);

        var item = await bob.ItemAsync(id);
        Assert.Equal(("member", 2, joined), (item.GetProperty("role").GetString(), item.GetProperty("unread").GetInt32(), item.GetProperty("lastReadEventId").GetInt64()));
        Assert.Equal("owner", (await ada.ItemAsync(id)).GetProperty("role").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await bob.MarkReadAsync(id, latest + 100)).StatusCode);
        item = await bob.ItemAsync(id);
        Assert.Equal((0, latest), (item.GetProperty("unread").GetInt32(), item.GetProperty("lastReadEventId").GetInt64()));

        Assert.Equal(HttpStatusCode.NoContent, (await bob.MarkReadAsync(id, 1)).StatusCode);
        Assert.Equal(latest, (await bob.ItemAsync(id)).GetProperty("lastReadEventId").GetInt64());
    }

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task A_bad_read_is_a_400_and_a_read_of_someone_elses_conversation_a_404(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        foreach (var body in new[] { "{}", """{"lastEventId": -1}""", """{"lastEventId": 1.5}""", """{"lastEventId": "3"}""", """{"lastEventId": null}""", "[]", "" })
        {
            var response = await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/read", accept, new StringContent(body, Encoding.UTF8, "application/json")));
            await Problems.AssertAsync(response, 400, $"read with {body}");
        }
        foreach (var conversation in new[] { id, "no-such-conversation" })
        {
            var response = await eve.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{conversation}/read", accept, new StringContent("""{"lastEventId": 1}""", Encoding.UTF8, "application/json")));
            await Problems.AssertAsync(response, 404, $"read of {conversation} by a non-member");
        }
        using var anonymous = _server.CreateSocketClient();
        foreach (var (method, path) in new[] { (HttpMethod.Post, $"/api/conversations/{id}/read"), (HttpMethod.Get, "/api/me/events"), (HttpMethod.Post, "/api/me/events") })
            await Problems.AssertAsync(await anonymous.SendAsync(Problems.Request(method, path, accept, JsonContent.Create(new { lastEventId = 1 }))), 401, $"{method} {path} without a token");
        await Problems.AssertAsync(await ada.Http.SendAsync(WithResumePoint(Problems.Request(HttpMethod.Post, "/api/me/events", accept), "x")), 400, "a non-numeric Last-Event-ID");
        Assert.Equal(0, (await ada.ItemAsync(id)).GetProperty("lastReadEventId").GetInt64());
    }

    private static HttpRequestMessage WithResumePoint(HttpRequestMessage request, string value)
    {
        request.Headers.TryAddWithoutValidation("Last-Event-ID", value);
        return request;
    }

    private static async Task<(long, string)> IdAndConversation(EventStreamReader stream)
    {
        var e = await stream.NextAsync();
        return (e!.Id!.Value, Str(e, "id"));
    }

    private static string Str(Received e, string name) => e.Data.GetProperty(name).GetString()!;

    private static int Int(Received e, string name) => e.Data.GetProperty(name).GetInt32();
}
