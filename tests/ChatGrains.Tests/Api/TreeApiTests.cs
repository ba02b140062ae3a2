using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>Replies of a second or two, so a test can act while one streams and still finish quickly.</summary>
public sealed class TreeServerFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Generator:TokensPerSecond"] = "100" };
}

/// <summary>Branches, regenerate, the shared head and fork over a real socket with a real SSE parser.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class TreeApiTests(TreeServerFixture fixture) : IClassFixture<TreeServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    /// <summary>Ada's conversation with one finished exchange: its id, prompt and reply.</summary>
    private async Task<(ApiUser Ada, string Id, string Prompt, string Reply)> AnsweredAsync(string title = "Tree")
    {
        var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync(title);
        await using var post = await ada.PostAsync(id, "first");
        var events = await post.ReadToEndAsync();
        return (ada, id, events[0].MessageId!, events[1].MessageId!);
    }

    [Fact]
    public async Task Every_message_has_a_parent_id_and_the_snapshot_names_the_head()
    {
        var (ada, id, prompt, reply) = await AnsweredAsync();

        var snapshot = await ada.SnapshotAsync(id);

        Assert.Equal(JsonValueKind.Null, snapshot.Message(prompt).GetProperty("parentId").ValueKind);
        Assert.Equal(prompt, snapshot.Message(reply).ParentId());
        Assert.Equal(reply, snapshot.GetProperty("head").GetString());
    }

    [Fact]
    public async Task A_post_stream_carries_the_head_moving_to_its_reply()
    {
        var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();

        await using var post = await ada.PostAsync(id, "first");
        var events = await post.ReadToEndAsync();

        Assert.Equal(["message.created", "message.created", "conversation.head"], events.Take(3).Select(e => e.Type));
        Assert.Equal(events[1].MessageId, events[2].Data.GetProperty("messageId").GetString());
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long?)i), events.Select(e => e.Id));
    }

    [Fact]
    public async Task Posting_under_an_earlier_reply_starts_a_branch_that_the_next_prompt_follows()
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        await (await ada.PostAsync(id, "second")).ReadToEndAsync();

        await using var edit = await ada.PostUnderAsync(id, "second, edited", reply);
        var events = await edit.ReadToEndAsync();
        await using var next = await ada.PostAsync(id, "third");
        var third = await next.ReadToEndAsync();

        var snapshot = await ada.SnapshotAsync(id);
        var editPrompt = events[0].MessageId!;
        Assert.Equal(reply, snapshot.Message(editPrompt).ParentId());
        Assert.Equal(events[1].MessageId, snapshot.Message(third[0].MessageId!).ParentId());
        Assert.Equal(third[1].MessageId, snapshot.GetProperty("head").GetString());
        Assert.Equal("complete", events.Last().Status);
    }

    [Fact]
    public async Task A_null_parent_posts_a_new_first_prompt()
    {
        var (ada, id, _, _) = await AnsweredAsync();

        var posted = await ada.PostUnderAcceptedAsync(id, "start over", null);

        var snapshot = await ada.SettledSnapshotAsync(id);
        Assert.Equal(JsonValueKind.Null, snapshot.Message(posted.Id("userMessageId")).GetProperty("parentId").ValueKind);
        Assert.Equal(posted.Id("assistantMessageId"), snapshot.GetProperty("head").GetString());
    }

    [Fact]
    public async Task Regenerate_streams_a_new_sibling_through_its_completion_and_a_retry_resumes_it()
    {
        var (ada, id, prompt, reply) = await AnsweredAsync();

        await using var regenerate = await ada.RegenerateAsync(id, reply, "regen-1");
        var events = await regenerate.ReadToEndAsync();
        await using var retry = await ada.RegenerateAsync(id, reply, "regen-1", lastEventId: events[2].Id);
        var resumed = await retry.ReadToEndAsync();

        Assert.Equal(["message.created", "conversation.head"], events.Take(2).Select(e => e.Type));
        var created = events[0].Data.GetProperty("message");
        Assert.Equal((prompt, prompt, "assistant"), (created.ParentId(), created.GetProperty("replyTo").GetString(), created.GetProperty("role").GetString()));
        Assert.Equal(("message.completed", "complete"), (events[^1].Type, events[^1].Status));
        Assert.Equal(events.Skip(3).Select(e => e.Id), resumed.Select(e => e.Id));
        var snapshot = await ada.SnapshotAsync(id);
        Assert.Equal(events[0].MessageId, snapshot.GetProperty("head").GetString());
        Assert.NotEqual(snapshot.Message(reply).GetProperty("content").GetString(), events[^1].Data.GetProperty("content").GetString());
        Assert.Equal(3, snapshot.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task Regenerate_with_accept_json_answers_202_and_the_same_key_gives_the_same_ids()
    {
        var (ada, id, _, reply) = await AnsweredAsync();

        var first = await ada.RegenerateAcceptedAsync(id, reply, "regen-json");
        var again = await ada.RegenerateAcceptedAsync(id, reply, "regen-json");

        Assert.Equal(first.GetRawText(), again.GetRawText());
        Assert.Equal(["assistantMessageId", "eventId"], first.EnumerateObject().Select(p => p.Name));
        await using var watch = await ada.WatchAsync(id, first.GetProperty("eventId").GetInt64() - 1);
        var created = await watch.NextAsync();
        Assert.Equal((first.GetProperty("eventId").GetInt64(), "message.created", first.Id("assistantMessageId")), (created!.Id!.Value, created.Type, created.MessageId));
        Assert.Equal(3, (await ada.SettledSnapshotAsync(id)).GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task Regenerate_while_another_reply_streams_is_queued_behind_it()
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        var streaming = await ada.PostAcceptedAsync(id, "second");

        var regenerated = await ada.RegenerateAcceptedAsync(id, reply);

        var queued = (await ada.SnapshotAsync(id)).Message(regenerated.Id("assistantMessageId"));
        Assert.Equal("queued", queued.GetProperty("status").GetString());
        await using var watch = await ada.WatchAsync(id, regenerated.GetProperty("eventId").GetInt64());
        var ends = new List<string>();
        while (ends.Count < 2) ends.Add((await watch.ReadUntilAsync(e => e.Type == "message.completed", TimeSpan.FromSeconds(30))).MessageId!);
        Assert.Equal([streaming.Id("assistantMessageId"), regenerated.Id("assistantMessageId")], ends);
    }

    [Fact]
    public async Task A_regenerated_reply_is_cancelled_like_any_other()
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        await using var regenerate = await ada.RegenerateAsync(id, reply);
        var created = await regenerate.ReadUntilAsync(e => e.Type == "message.created");

        Assert.Equal(HttpStatusCode.Accepted, (await ada.CancelAsync(id, created.MessageId!)).StatusCode);

        var end = await regenerate.ReadUntilAsync(e => e.Type == "message.completed");
        Assert.Equal((created.MessageId, "cancelled"), (end.MessageId, end.Status));
    }

    [Fact]
    public async Task Any_member_sets_the_head_everyone_watching_sees_it_and_setting_it_again_is_no_event()
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        var bob = await _server.SignInAsync("Bob");
        await ada.ShareWithAsync(id, bob);
        await (await ada.PostAsync(id, "second")).ReadToEndAsync();
        await using var watch = await ada.WatchAsync(id, await ada.LastEventIdAsync(id));

        var response = await bob.SetHeadAsync(id, reply);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snapshot = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(reply, snapshot.GetProperty("head").GetString());
        var moved = await watch.NextAsync();
        Assert.Equal(("conversation.head", reply, snapshot.GetProperty("lastEventId").GetInt64()), (moved!.Type, moved.Data.GetProperty("messageId").GetString(), moved.Id!.Value));
        var again = await (await bob.SetHeadAsync(id, reply)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(snapshot.GetProperty("lastEventId").GetInt64(), again.GetProperty("lastEventId").GetInt64());
    }

    [Fact]
    public async Task A_fork_is_a_new_conversation_of_the_caller_alone_holding_the_path()
    {
        var (ada, id, prompt, reply) = await AnsweredAsync("Plans");
        var bob = await _server.SignInAsync("Bob");
        await ada.ShareWithAsync(id, bob);
        await (await ada.PostAsync(id, "second")).ReadToEndAsync();

        var response = await bob.ForkAsync(id, reply);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var fork = await response.Content.ReadFromJsonAsync<JsonElement>();
        var forkId = fork.Id();
        Assert.Equal($"/api/conversations/{forkId}", response.Headers.Location?.OriginalString);
        Assert.Equal("Plans (fork)", fork.GetProperty("title").GetString());
        Assert.Equal([(bob.UserId, "owner")], fork.GetProperty("members").EnumerateArray().Select(m => (m.Id("userId"), m.GetProperty("role").GetString())));
        var original = await ada.SnapshotAsync(id);
        var copies = fork.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(new[] { original.Message(prompt), original.Message(reply) }.Select(m => (m.Id("authorId"), m.GetProperty("content").GetString())),
            copies.Select(m => (m.Id("authorId"), m.GetProperty("content").GetString())));
        Assert.DoesNotContain(copies, m => m.Id() == prompt || m.Id() == reply);
        Assert.Equal(copies[0].Id(), copies[1].ParentId());
        Assert.Equal(copies[1].Id(), fork.GetProperty("head").GetString());
        Assert.Equal(2, fork.GetProperty("lastEventId").GetInt64());
        await using var replay = await bob.WatchAsync(forkId, 0);
        await replay.NextAsync();
        await replay.NextAsync();
        Assert.Equal([(1L, "message.created"), (2L, "message.created")], replay.Events.Select(e => (e.Id!.Value, e.Type)));
        Assert.Equal(HttpStatusCode.NotFound, (await ada.Http.GetAsync($"/api/conversations/{forkId}")).StatusCode);
        var listed = (await bob.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Single(c => c.Id() == forkId);
        Assert.Equal(("owner", 0), (listed.GetProperty("role").GetString(), listed.GetProperty("unread").GetInt32()));
    }

    [Fact]
    public async Task Resuming_across_branch_switches_has_no_gap_and_no_duplicate()
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        await using (var watch = await ada.WatchAsync(id, 0))
        {
            // The watcher leaves part-way through a branch's reply.
            await using var edit = await ada.PostUnderAsync(id, "edited", reply);
            await edit.ReadUntilAsync(e => e.Type == "message.delta");
            await watch.ReadUntilAsync(e => e.Type == "message.delta");
            var seen = watch.Events.ToList();
            await edit.ReadToEndAsync();
            await ada.SetHeadAsync(id, reply);
            await (await ada.RegenerateAsync(id, reply)).ReadToEndAsync();

            await using var resumed = await ada.WatchAsync(id, seen[^1].Id);
            var last = await ada.LastEventIdAsync(id);
            await resumed.ReadUntilAsync(e => e.Id == last);

            var all = seen.Concat(resumed.Events).Where(e => e.Id is not null).Select(e => e.Id!.Value).ToList();
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), all);
            Assert.Contains(resumed.Events, e => e.Type == "conversation.head" && e.Data.GetProperty("messageId").GetString() == reply);
        }
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Tree_refusals_are_problems_and_change_nothing(string accept)
    {
        var (ada, id, prompt, reply) = await AnsweredAsync();
        var streaming = await ada.PostAcceptedAsync(id, "second", "post-key");
        var open = streaming.Id("assistantMessageId");
        var before = (await ada.SnapshotAsync(id)).GetProperty("messages").GetArrayLength();
        HttpRequestMessage Post(string body) =>
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, new StringContent(body, Encoding.UTF8, "application/json"));
        HttpRequestMessage With(string route, string? body) =>
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/{route}", accept, body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"));

        var refusals = new (HttpRequestMessage Request, int Status, string Because)[]
        {
            (Post($"{{\"content\":\"x\",\"parentId\":\"{prompt}\"}}"), 400, "a prompt as parent"),
            (Post("{\"content\":\"x\",\"parentId\":\"nope\"}"), 404, "an unknown parent"),
            (Post("{\"content\":\"x\",\"parentId\":42}"), 400, "a parent that is not a string"),
            (TreeRequests.RegenerateRequest(id, prompt, accept), 400, "regenerating a prompt"),
            (TreeRequests.RegenerateRequest(id, open, accept), 409, "regenerating an unfinished reply"),
            (TreeRequests.RegenerateRequest(id, "nope", accept), 404, "regenerating an unknown message"),
            (TreeRequests.RegenerateRequest(id, reply, accept, "post-key"), 422, "a posting key reused to regenerate"),
            (With("head", $"{{\"messageId\":\"{prompt}\"}}"), 400, "a prompt as head"),
            (With("head", "{\"messageId\":\"nope\"}"), 404, "an unknown head"),
            (With("head", null), 400, "a head without a body"),
            (With("head", "{\"messageId\":7}"), 400, "a head that is not a string"),
            (With("fork", $"{{\"messageId\":\"{prompt}\"}}"), 400, "forking at a prompt"),
            (With("fork", $"{{\"messageId\":\"{open}\"}}"), 409, "forking at an unfinished reply"),
            (With("fork", "{\"messageId\":\"nope\"}"), 404, "forking at an unknown message"),
            (With("fork", "{}"), 400, "a fork without a message"),
        };
        foreach (var (request, status, because) in refusals)
            await Problems.AssertAsync(await ada.Http.SendAsync(request), status, because);

        var conversations = (await ada.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length;
        var snapshot = await ada.SettledSnapshotAsync(id);
        Assert.Equal(before, snapshot.GetProperty("messages").GetArrayLength());
        Assert.Equal(open, snapshot.GetProperty("head").GetString());
        Assert.Equal(conversations, (await ada.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length);
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Every_tree_route_answers_404_to_a_non_member(string accept)
    {
        var (ada, id, _, reply) = await AnsweredAsync();
        using var eve = await _server.SignInAsync("Eve");
        var last = await ada.LastEventIdAsync(id);
        string Body(object value) => JsonSerializer.Serialize(value);

        var routes = new[]
        {
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, new StringContent(Body(new { content = "x", parentId = reply }), Encoding.UTF8, "application/json")),
            TreeRequests.RegenerateRequest(id, reply, accept),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/head", accept, new StringContent(Body(new { messageId = reply }), Encoding.UTF8, "application/json")),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/head", accept, new StringContent("not json", Encoding.UTF8, "application/json")),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/fork", accept, new StringContent(Body(new { messageId = reply }), Encoding.UTF8, "application/json")),
            Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/fork", accept),
        };
        foreach (var request in routes)
            await Problems.AssertAsync(await eve.Http.SendAsync(request), 404, $"{request.Method} {request.RequestUri}");

        Assert.Equal(last, await ada.LastEventIdAsync(id));
        Assert.Empty((await eve.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!);
    }
}
