using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Api;

/// <summary>Replies slow enough (about 5 s) that a removal or a delete lands while one streams.</summary>
public sealed class PeopleServerFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Generator:TokensPerSecond"] = "20" };
}

/// <summary>Roles, renaming, leaving and removal, deleting and invites, over a real socket with a real SSE parser.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class PeopleApiTests(PeopleServerFixture fixture, ITestOutputHelper output) : IClassFixture<PeopleServerFixture>
{
    private static readonly TimeSpan StreamEndLimit = TimeSpan.FromSeconds(2);
    private readonly ApiServer _server = fixture.Server;

    private async Task<(ApiUser Ada, ApiUser Bob, string Id)> SharedAsync()
    {
        var ada = await _server.SignInAsync("Ada");
        var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync("People");
        await ada.ShareWithAsync(id, bob);
        return (ada, bob, id);
    }

    [Fact]
    public async Task Snapshot_members_carry_their_role()
    {
        var (ada, bob, id) = await SharedAsync();

        var members = (await bob.SnapshotAsync(id)).GetProperty("members").EnumerateArray()
            .Select(m => (m.GetProperty("userId").GetString(), m.GetProperty("name").GetString(), m.GetProperty("role").GetString()));

        Assert.Equal([(ada.UserId, "Ada", "owner"), (bob.UserId, "Bob", "member")], members);
    }

    [Fact]
    public async Task Any_member_renames_the_title_is_trimmed_streamed_and_listed()
    {
        var (ada, bob, id) = await SharedAsync();
        await using var watch = await ada.WatchAsync(id, await ada.LastEventIdAsync(id));

        var response = await bob.RenameAsync(id, "  Trip planning  ");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Trip planning", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        var updated = await watch.NextAsync();
        Assert.Equal("conversation.updated", updated!.Type);
        Assert.Equal("Trip planning", updated.Data.GetProperty("title").GetString());
        var listed = (await ada.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Single(c => c.GetProperty("id").GetString() == id);
        Assert.Equal("Trip planning", listed.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_removed_members_watch_and_post_streams_end_after_their_member_left_and_their_reply_goes_on()
    {
        var (ada, bob, id) = await SharedAsync();
        var from = await ada.LastEventIdAsync(id);
        await using var adaWatch = await ada.WatchAsync(id, from);
        await using var bobWatch = await bob.WatchAsync(id, from);
        await using var bobPost = await bob.PostAsync(id, "a long question");
        var reply = (await bobPost.ReadUntilAsync(e => e.Type == "message.delta")).MessageId;

        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await ada.RemoveAsync(id, bob.UserId)).StatusCode);
        foreach (var stream in new[] { bobWatch, bobPost })
        {
            var events = await stream.ReadToEndAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(("member.left", bob.UserId, ada.UserId), (events[^1].Type, events[^1].Data.GetProperty("userId").GetString(), events[^1].Data.GetProperty("by").GetString()));
        }
        var ended = clock.Elapsed;
        output.WriteLine($"Both of the removed member's streams ended {ended.TotalMilliseconds:F0} ms after the DELETE was sent.");
        Assert.True(ended < StreamEndLimit, $"the streams ended after {ended}");

        // Everyone else's stream goes on, and so does the removed member's reply.
        var completed = await adaWatch.ReadUntilAsync(e => e.Type == "message.completed", TimeSpan.FromSeconds(30));
        Assert.Equal((reply, "complete"), (completed.MessageId, completed.Status));
        Assert.Contains(adaWatch.Events, e => e.Type == "member.left");
    }

    [Fact]
    public async Task A_removed_member_gets_404_on_every_route_and_an_old_last_event_id_replays_nothing()
    {
        var (ada, bob, id) = await SharedAsync();
        var invite = (await ada.InviteAsync(id)).Token();
        Assert.Equal(HttpStatusCode.NoContent, (await bob.RemoveAsync(id, bob.UserId)).StatusCode);

        foreach (var accept in Problems.Accepts)
        {
            foreach (var request in MemberRoutes(id, accept, invite))
                await Problems.AssertAsync(await bob.Http.SendAsync(request), 404, $"{request.Method} {request.RequestUri}");
        }
        Assert.DoesNotContain((await bob.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!, c => c.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task Deleting_cancels_the_reply_first_then_every_stream_ends_after_conversation_deleted_and_everything_is_404()
    {
        var (ada, bob, id) = await SharedAsync();
        var from = await ada.LastEventIdAsync(id);
        await using var adaWatch = await ada.WatchAsync(id, from);
        await using var bobWatch = await bob.WatchAsync(id, from);
        await using var bobPost = await bob.PostAsync(id, "a long question");
        var reply = (await bobPost.ReadUntilAsync(e => e.Type == "message.delta")).MessageId;
        var queued = (await ada.PostAcceptedAsync(id, "and another")).GetProperty("assistantMessageId").GetString();

        Assert.Equal(HttpStatusCode.Forbidden, (await bob.DeleteConversationAsync(id)).StatusCode);
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await ada.DeleteConversationAsync(id)).StatusCode);

        var postEvents = await bobPost.ReadToEndAsync(TimeSpan.FromSeconds(10));
        var watched = new List<List<Received>>();
        foreach (var watch in new[] { adaWatch, bobWatch }) watched.Add(await watch.ReadToEndAsync(TimeSpan.FromSeconds(10)));
        var ended = clock.Elapsed;
        output.WriteLine($"Every stream ended {ended.TotalMilliseconds:F0} ms after the DELETE was sent.");
        Assert.True(ended < StreamEndLimit, $"the streams ended after {ended}");

        Assert.Equal("conversation.deleted", postEvents[^1].Type);
        foreach (var events in watched.Append(postEvents))
        {
            Assert.Equal("conversation.deleted", events[^1].Type);
            Assert.NotNull(events[^1].Id);
            var completions = events.Where(e => e.Type == "message.completed").ToList();
            Assert.Equal([(reply, "cancelled"), (queued, "cancelled")], completions.Select(e => (e.MessageId, e.Status)));
        }
        foreach (var user in new[] { ada, bob })
        {
            foreach (var request in MemberRoutes(id, "none", "any"))
                await Problems.AssertAsync(await user.Http.SendAsync(request), 404, $"{request.Method} {request.RequestUri}");
            Assert.DoesNotContain((await user.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!, c => c.GetProperty("id").GetString() == id);
        }
    }

    [Fact]
    public async Task Invites_have_terms_are_listed_with_their_uses_and_a_revoked_or_used_up_one_lets_no_one_in()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        using var cy = await _server.SignInAsync("Cy");
        using var dee = await _server.SignInAsync("Dee");
        var id = await ada.CreateConversationAsync();

        var plain = await ada.InviteAsync(id);
        var limited = await ada.InviteAsync(id, new { expiresInSeconds = 3600, maxUses = 2 });
        var nulls = await ada.InviteAsync(id, new { expiresInSeconds = (int?)null, maxUses = (int?)null });

        Assert.False(plain.TryGetProperty("expiresAt", out _));
        Assert.False(nulls.TryGetProperty("maxUses", out _));
        Assert.Equal(2, limited.GetProperty("maxUses").GetInt32());
        var expiresIn = limited.GetProperty("expiresAt").GetDateTimeOffset() - DateTimeOffset.UtcNow;
        Assert.InRange(expiresIn, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(60));

        Assert.Equal(HttpStatusCode.OK, (await bob.JoinAsync(id, limited.Token())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bob.JoinAsync(id, limited.Token())).StatusCode); // already a member: uses nothing
        Assert.Equal(HttpStatusCode.OK, (await cy.JoinAsync(id, limited.Token())).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await dee.JoinAsync(id, limited.Token())).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await ada.RevokeInviteAsync(id, nulls.Token())).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await dee.JoinAsync(id, nulls.Token())).StatusCode);

        var listed = await bob.InvitesAsync(id);
        Assert.Equal([plain.Token(), limited.Token()], listed.Select(i => i.Token()));
        Assert.Equal([0, 2], listed.Select(i => i.GetProperty("uses").GetInt32()));
        Assert.All(listed, i => Assert.Equal(ada.UserId, i.GetProperty("createdBy").GetString()));
        Assert.Equal(limited.GetProperty("expiresAt").GetDateTimeOffset(), listed[1].GetProperty("expiresAt").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.OK, (await dee.JoinAsync(id, plain.Token())).StatusCode);
    }

    /// <summary>Every route of a conversation, for a member (to see them all answer 404 once they are not).</summary>
    private static IEnumerable<HttpRequestMessage> MemberRoutes(string id, string accept, string invite)
    {
        HttpContent Json(object body) => JsonContent.Create(body);
        yield return Problems.Request(HttpMethod.Get, $"/api/conversations/{id}", accept);
        yield return Problems.Request(HttpMethod.Patch, $"/api/conversations/{id}", accept, Json(new { title = "mine now" }));
        yield return Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}", accept);
        yield return Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/invites", accept);
        yield return Problems.Request(HttpMethod.Get, $"/api/conversations/{id}/invites", accept);
        yield return Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}/invites/{invite}", accept);
        yield return Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}/members/someone", accept);
        yield return Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages", accept, Json(new { content = "hello?" }));
        yield return Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/messages/m/cancel", accept);
        var watch = Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/events", accept);
        watch.Headers.Add("Last-Event-ID", "0");
        yield return watch;
        yield return Problems.Request(HttpMethod.Get, $"/api/conversations/{id}/events?lastEventId=1", accept);
    }
}

/// <summary>
/// The people routes' refusals under every Accept a client sends, in the contract's order: 404
/// to a non-member (even with a bad body), then 400, then 403, then 409; none changes anything.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class PeopleErrorTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ApiServer _server = fixture.Server;

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task A_bad_title_is_a_400_to_a_member_and_a_404_to_anyone_else(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync("Before");
        var before = await ada.LastEventIdAsync(id);
        string[] bad = ["{}", "{\"title\": 5}", "{\"title\": null}", "{\"title\": \"   \"}", JsonSerializer.Serialize(new { title = new string('t', 201) }), "not json", ""];

        foreach (var body in bad)
        {
            Task<HttpResponseMessage> Rename(ApiUser user) => user.Http.SendAsync(Problems.Request(HttpMethod.Patch, $"/api/conversations/{id}", accept, Body(body)));
            await Problems.AssertAsync(await Rename(ada), 400, $"title {body}");
            await Problems.AssertAsync(await Rename(eve), 404, $"stranger, title {body}");
        }
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Patch, $"/api/conversations/{id}", accept, Body("{\"title\": \"Mine\"}"))), 404, "stranger");
        Assert.Equal(HttpStatusCode.OK, (await ada.RenameAsync(id, new string('t', 200))).StatusCode);
        Assert.Equal(before + 1, await ada.LastEventIdAsync(id));
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Deleting_is_the_owners_a_member_gets_403_and_a_stranger_404(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var before = await ada.LastEventIdAsync(id);

        await Problems.AssertAsync(await bob.Http.SendAsync(Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}", accept)), 403, "member");
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}", accept)), 404, "stranger");
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Delete, "/api/conversations/does-not-exist", accept)), 404, "unknown");

        Assert.Equal(before, await ada.LastEventIdAsync(id));
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Removal_is_refused_404_to_strangers_and_for_non_members_403_for_others_and_409_for_the_owner_leaving(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        using var cy = await _server.SignInAsync("Cy");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        await ada.ShareWithAsync(id, cy);
        var before = await ada.LastEventIdAsync(id);
        Task<HttpResponseMessage> Remove(ApiUser by, string userId) =>
            by.Http.SendAsync(Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}/members/{userId}", accept));

        await Problems.AssertAsync(await Remove(eve, bob.UserId), 404, "stranger removes a member");
        await Problems.AssertAsync(await Remove(eve, eve.UserId), 404, "stranger leaves");
        await Problems.AssertAsync(await Remove(ada, eve.UserId), 404, "non-member target");
        await Problems.AssertAsync(await Remove(bob, cy.UserId), 403, "member removes another");
        await Problems.AssertAsync(await Remove(bob, ada.UserId), 403, "member removes the owner");
        await Problems.AssertAsync(await Remove(ada, ada.UserId), 409, "owner leaves");

        Assert.Equal(before, await ada.LastEventIdAsync(id));
        Assert.Equal(3, (await ada.SnapshotAsync(id)).GetProperty("members").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Bad_invite_terms_are_400s_to_a_member_and_404s_to_a_stranger(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        string[] bad =
        [
            "{\"expiresInSeconds\": 59}", "{\"expiresInSeconds\": 2592001}", "{\"expiresInSeconds\": \"60\"}", "{\"expiresInSeconds\": 60.5}",
            "{\"maxUses\": 0}", "{\"maxUses\": -1}", "{\"maxUses\": \"1\"}", "{\"maxUses\": 1e100}", "[]", "{",
        ];

        foreach (var body in bad)
        {
            Task<HttpResponseMessage> Invite(ApiUser user) => user.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/invites", accept, Body(body)));
            await Problems.AssertAsync(await Invite(ada), 400, body);
            await Problems.AssertAsync(await Invite(eve), 404, $"stranger, {body}");
        }
        Assert.Empty(await ada.InvitesAsync(id));
        foreach (var good in new[] { "{\"expiresInSeconds\": 60, \"maxUses\": 1}", "{\"expiresInSeconds\": 2592000}", "{}" })
            Assert.Equal(HttpStatusCode.Created, (await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/invites", accept, Body(good)))).StatusCode);
    }

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Listing_invites_is_for_members_and_revoking_is_for_the_owner_or_the_creator(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        using var cy = await _server.SignInAsync("Cy");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        await ada.ShareWithAsync(id, cy);
        var bobs = (await bob.InviteAsync(id)).Token();
        Task<HttpResponseMessage> Revoke(ApiUser by, string token) =>
            by.Http.SendAsync(Problems.Request(HttpMethod.Delete, $"/api/conversations/{id}/invites/{token}", accept));

        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Get, $"/api/conversations/{id}/invites", accept)), 404, "stranger lists");
        await Problems.AssertAsync(await Revoke(eve, bobs), 404, "stranger revokes");
        await Problems.AssertAsync(await Revoke(cy, bobs), 403, "another member revokes");
        await Problems.AssertAsync(await Revoke(ada, "no-such-invite"), 404, "unknown invite");
        Assert.Contains(await cy.InvitesAsync(id), i => i.Token() == bobs);

        Assert.Equal(HttpStatusCode.NoContent, (await Revoke(bob, bobs)).StatusCode);
        await Problems.AssertAsync(await Revoke(ada, bobs), 404, "already revoked");
        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/members", accept, JsonContent.Create(new { inviteToken = bobs }))), 404, "join with a revoked invite");
    }
}
