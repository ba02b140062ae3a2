using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

public sealed class PresenceFixture : ApiServerFixture
{
    // Replies long enough (several seconds) for presence to change many times while one streams.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:TokensPerSecond"] = "40",
    };
}

/// <summary>
/// Presence and typing over a real socket, read with the real SSE parser: who watches is listed
/// at the start of every watch stream and on every change, typing is throttled per user, and
/// neither has an id or moves anybody's resume point.
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class PresenceTests(PresenceFixture fixture) : IClassFixture<PresenceFixture>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(5);
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task A_watch_stream_starts_with_presence_listing_its_caller_and_follows_watchers_as_they_come_and_go()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);

        await using var adaWatch = await ada.WatchWithPresenceAsync(id, 0);
        var first = await adaWatch.ReadUntilAsync(e => e.Type == "presence", Soon);
        // After the replay, without an id, listing the caller with the contract's fields.
        Assert.Equal(await ada.LastEventIdAsync(id), adaWatch.Events[^1].Id);
        Assert.Null(first.Id);
        Assert.Equal(JsonSerializer.Serialize(new { online = new[] { new { userId = ada.UserId, name = "Ada" } } }), first.Data.GetRawText());

        // Bob's tabs close their connections at once, as a browser's do.
        using var bobsTabs = bob.TabClient();
        var bobWatch = await bob.WatchWithPresenceAsync(id, tab: bobsTabs);
        var bobsFirst = await bobWatch.ReadUntilAsync(e => e.Type == "presence", Soon);
        Assert.True(bobsFirst.Online().SetEquals([ada.UserId, bob.UserId]), $"Bob's stream starts with {bobsFirst}");
        await adaWatch.ReadPresenceAsync([ada, bob], Soon);

        // A second stream of Bob's changes nothing; closing one of two leaves him online.
        await using (var bobsSecondTab = await bob.WatchWithPresenceAsync(id, tab: bobsTabs))
            await bobsSecondTab.ReadPresenceAsync([ada, bob], Soon);
        await bobWatch.DisposeAsync();
        await adaWatch.ReadPresenceAsync([ada], Soon);
        // Every presence Ada saw listed her; Bob was never dropped while one of his streams was open.
        var seen = adaWatch.Ephemeral.Where(e => e.Type == "presence").Select(e => string.Join(",", e.Online().Order())).ToList();
        Assert.Equal(new[] { ada.UserId, string.Join(",", new[] { ada.UserId, bob.UserId }.Order()), ada.UserId }, seen);
    }

    [Fact]
    public async Task A_post_stream_gets_no_presence_or_typing_and_does_not_count_as_online()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        await using var adaWatch = await ada.WatchWithPresenceAsync(id);
        await adaWatch.ReadPresenceAsync([ada], Soon);

        await using var post = await bob.PostWithPresenceAsync(id, "a reply that takes a few seconds");
        await post.ReadUntilAsync(e => e.Type == "message.delta", Soon);
        // While Bob's POST streams: Ada types, and a watch stream of Bob's comes and goes.
        Assert.Equal(HttpStatusCode.NoContent, (await ada.TypingAsync(id)).StatusCode);
        await adaWatch.ReadTypingAsync(ada, Soon);
        using var bobsTab = bob.TabClient();
        await using (var bobWatch = await bob.WatchWithPresenceAsync(id, tab: bobsTab)) await adaWatch.ReadPresenceAsync([ada, bob], Soon);
        await adaWatch.ReadPresenceAsync([ada], Soon);
        var events = await post.ReadToEndAsync();

        Assert.Equal("message.completed", events[^1].Type);
        Assert.Empty(post.Ephemeral);
        Assert.All(events, e => Assert.NotNull(e.Id));
        // Bob was online only while his watch stream was open, never for his POST.
        Assert.Equal(3, adaWatch.Ephemeral.Count(e => e.Type == "presence"));
    }

    [Fact]
    public async Task Typing_reaches_every_watcher_including_the_typer_at_most_once_per_two_seconds_per_user()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        await using var adaWatch = await ada.WatchWithPresenceAsync(id);
        await using var bobWatch = await bob.WatchWithPresenceAsync(id);
        await bobWatch.ReadPresenceAsync([ada, bob], Soon);

        // A burst of keystrokes: one typing goes out.
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.NoContent, (await bob.TypingAsync(id)).StatusCode);
        var burst = clock.Elapsed;
        Assert.True(burst < TimeSpan.FromSeconds(1.9), $"the burst took {burst}: longer than one window, so it tells nothing");
        // Ada's own typing comes after Bob's on the same stream: by then every forwarded one of Bob's has arrived.
        Assert.Equal(HttpStatusCode.NoContent, (await ada.TypingAsync(id)).StatusCode);
        var typing = await adaWatch.ReadTypingAsync(bob, Soon);
        Assert.Null(typing.Id);
        Assert.Equal(JsonSerializer.Serialize(new { userId = bob.UserId, name = "Bob" }), typing.Data.GetRawText());
        await adaWatch.ReadTypingAsync(ada, Soon);
        await bobWatch.ReadTypingAsync(bob, Soon);
        await bobWatch.ReadTypingAsync(ada, Soon);
        Assert.Single(adaWatch.Ephemeral, e => e.Type == "typing" && e.Data.GetProperty("userId").GetString() == bob.UserId);

        // Typing on, as a page does while its user keeps typing (a notice every 100 ms): the next
        // one goes out once the window that the first opened has passed.
        using var stop = new CancellationTokenSource();
        var typist = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(HttpStatusCode.NoContent, (await bob.TypingAsync(id)).StatusCode);
                await Task.Delay(100, stop.Token).ContinueWith(_ => { });
            }
        });
        await adaWatch.ReadTypingAsync(bob, Soon);
        var gap = clock.Elapsed;
        stop.Cancel();
        await typist;
        Assert.InRange(gap, TimeSpan.FromSeconds(1.95), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task A_client_resuming_across_many_presence_changes_and_typing_gets_exactly_the_numbered_events_it_missed()
    {
        using var ada = await _server.SignInAsync("Ada");
        using var bob = await _server.SignInAsync("Bob");
        var id = await ada.CreateConversationAsync();
        await ada.ShareWithAsync(id, bob);
        var from = await ada.LastEventIdAsync(id);
        await using var reference = await ada.WatchAsync(id, from);
        await ada.PostAcceptedAsync(id, "the first of two long replies");
        var last = (await ada.PostAcceptedAsync(id, "the second of two long replies")).GetProperty("assistantMessageId").GetString()!;

        // Ada's tab drops and resumes again and again, as fetch-event-source does, from the id its
        // SSE parser last saw. Before each drop Bob comes and goes and types, so her stream
        // carries presence and typing between the numbered events.
        using var adasTab = ada.TabClient();
        using var bobsTab = bob.TabClient();
        var seen = new List<Received>();
        var resumeFrom = from.ToString();
        var presenceEvents = 0;
        var done = false;
        for (var round = 0; round < 8 && !done; round++)
        {
            await using var watch = await ada.WatchWithPresenceAsync(id, long.Parse(resumeFrom), adasTab);
            await watch.ReadPresenceAsync([ada], Soon);
            await using (var bobWatch = await bob.WatchWithPresenceAsync(id, tab: bobsTab))
            {
                await watch.ReadPresenceAsync([ada, bob], Soon);
                await bob.TypingAsync(id);
                if (!watch.Events.Any(IsEnd)) await watch.ReadUntilAsync(e => e.Type == "message.delta" || IsEnd(e), Soon);
            }
            await watch.ReadPresenceAsync([ada], Soon);
            done = watch.Events.Any(IsEnd);
            presenceEvents += watch.Ephemeral.Count(e => e.Type == "presence");
            Assert.All(watch.Ephemeral, e => Assert.Null(e.Id));
            seen.AddRange(watch.Events);
            if (watch.Events.Count == 0) continue;
            // What a real client resumes from: the parser's last event id, which only numbered events set.
            Assert.Equal(watch.Events[^1].Id.ToString(), watch.Parser.LastEventId);
            resumeFrom = watch.Parser.LastEventId;
        }
        if (!done)
        {
            await using var rest = await ada.WatchWithPresenceAsync(id, long.Parse(resumeFrom));
            await rest.ReadUntilAsync(IsEnd, TimeSpan.FromSeconds(30));
            seen.AddRange(rest.Events);
        }

        await reference.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == last, TimeSpan.FromSeconds(30));
        Assert.True(presenceEvents >= 10, $"only {presenceEvents} presence events were seen");
        Assert.Equal(Enumerable.Range((int)from + 1, seen.Count).Select(i => (long?)i), seen.Select(e => e.Id));
        Assert.Equal(reference.Events.Select(e => $"{e.Id}|{e.Type}|{e.Data.GetRawText()}"), seen.Select(e => $"{e.Id}|{e.Type}|{e.Data.GetRawText()}"));

        bool IsEnd(Received e) => e.Type == "message.completed" && e.MessageId == last;
    }

    public static TheoryData<string> Accepts => new(Problems.Accepts);

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task Typing_by_a_non_member_or_in_an_unknown_conversation_is_a_404_problem(string accept)
    {
        using var ada = await _server.SignInAsync("Ada");
        using var eve = await _server.SignInAsync("Eve");
        var id = await ada.CreateConversationAsync();

        await Problems.AssertAsync(await eve.Http.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/typing", accept)), 404, "a non-member types");
        await Problems.AssertAsync(await ada.Http.SendAsync(Problems.Request(HttpMethod.Post, "/api/conversations/no-such-conversation/typing", accept)), 404, "typing in an unknown conversation");
        using var anonymous = _server.CreateSocketClient();
        await Problems.AssertAsync(await anonymous.SendAsync(Problems.Request(HttpMethod.Post, $"/api/conversations/{id}/typing", accept)), 401, "typing signed out");
    }
}
