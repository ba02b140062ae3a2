using System.Diagnostics;
using ChatGrains.Tests.Api;
using ChatGrains.Tests.Infrastructure;
using Xunit.Abstractions;

using static ChatGrains.Tests.Cluster.Watches;

namespace ChatGrains.Tests.Cluster;

/// <summary>
/// Two API hosts over three silos, Redis and PostgreSQL, each its own process: tabs on different
/// hosts share conversations, and losing a silo or an API host loses nothing.
/// </summary>
[Trait("Category", TestCategory.Cluster)]
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(LocalCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Watchers_on_different_api_hosts_see_identical_sequences_and_prompts_stream_across_hosts()
    {
        var (ada, bob, id, from) = await cluster.SharedConversationAsync();
        await using var onApi1 = await ada.WatchAsync(id, from);
        await using var onApi2 = await bob.WatchAsync(id, from);

        await using (var post = await ada.PostAsync(id, "posted on the first host")) await post.ReadToEndAsync();
        await using (var post = await bob.PostAsync(id, "posted on the second host")) await post.ReadToEndAsync();
        var last = await ada.LastEventIdAsync(id);

        foreach (var watch in new[] { onApi1, onApi2 })
            while (watch.Events.Count == 0 || watch.Events[^1].Id < last) await watch.NextAsync();
        Assert.Equal(Raw(onApi1), Raw(onApi2));
        Assert.Equal(Enumerable.Range((int)from + 1, (int)(last - from)).Select(i => (long?)i), onApi1.Events.Select(e => e.Id));
    }

    [Fact]
    public async Task Killing_the_silo_that_hosts_a_conversation_mid_reply_ends_the_reply_failed_for_every_watcher_within_30_seconds()
    {
        var (ada, bob, id, _) = await cluster.SharedConversationAsync();
        await using (var warmUp = await ada.PostAsync(id, "a first exchange that completes")) await warmUp.ReadToEndAsync();
        var from = await ada.LastEventIdAsync(id);
        await using var onApi1 = await ada.WatchAsync(id, from);
        await using var onApi2 = await bob.WatchAsync(id, from);
        var reply = (await ada.PostAcceptedAsync(id, "a long reply that will be cut")).GetProperty("assistantMessageId").GetString()!;
        await ReadDeltasAsync(onApi1, 3);
        await ReadDeltasAsync(onApi2, 3);

        var silo = await cluster.SiloHostingAsync(id);
        var clock = Stopwatch.StartNew();
        await cluster.KillAsync("silo", silo);
        var restarted = false;
        try
        {
            foreach (var watch in new[] { onApi1, onApi2 })
            {
                var end = await watch.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == reply, TimeSpan.FromSeconds(30));
                Assert.Equal("failed", end.Status);
                Assert.Equal("interrupted", end.Data.GetProperty("error").GetString());
            }
            output.WriteLine($"Both watchers saw the interrupted reply end {clock.Elapsed.TotalSeconds:F1} s after the kill.");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
            Assert.Equal(Raw(onApi1), Raw(onApi2));
            AssertConsecutive(onApi1, from);

            var messages = (await bob.SnapshotAsync(id)).GetProperty("messages");
            Assert.Equal("complete", messages[1].GetProperty("status").GetString()); // completed before the kill: still there
            Assert.Equal("failed", messages[3].GetProperty("status").GetString());
            await using var next = await ada.PostAsync(id, "are you back?");
            var events = await next.ReadToEndAsync();
            Assert.Equal(onApi1.Events[^1].Id + 1, events[0].Id);
            Assert.Equal("complete", events[^1].Status);

            // New conversations work at once, with the silo gone and again when it is back
            // (some of them land in directory ranges the dead silo owned).
            await CreateAndPostAsync(ada, bob);
            await cluster.StartAsync("silo", silo);
            restarted = true;
            await CreateAndPostAsync(ada, bob);
        }
        finally
        {
            if (!restarted) await cluster.StartAsync("silo", silo);
        }
    }

    private static async Task CreateAndPostAsync(params ApiUser[] users)
    {
        for (var i = 0; i < 8; i++)
        {
            var user = users[i % users.Length];
            var id = await user.CreateConversationAsync();
            Assert.False(string.IsNullOrEmpty((await user.PostAcceptedAsync(id, "hello")).GetProperty("assistantMessageId").GetString()));
        }
    }

    [Fact]
    public async Task Stopping_a_silo_gracefully_mid_reply_lets_the_reply_finish()
    {
        var (ada, bob, id, from) = await cluster.SharedConversationAsync();
        await using var onApi1 = await ada.WatchAsync(id, from);
        await using var onApi2 = await bob.WatchAsync(id, from);
        var reply = (await ada.PostAcceptedAsync(id, "finish this before you go")).GetProperty("assistantMessageId").GetString()!;
        await ReadDeltasAsync(onApi1, 3);

        var silo = await cluster.SiloHostingAsync(id);
        var stopping = cluster.TerminateAsync("silo", silo);
        try
        {
            foreach (var watch in new[] { onApi1, onApi2 })
            {
                var end = await watch.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == reply, TimeSpan.FromSeconds(40));
                Assert.Equal("complete", end.Status);
            }
            await stopping;
            Assert.Equal(Raw(onApi1), Raw(onApi2));
            AssertConsecutive(onApi1, from);
            Assert.DoesNotContain(onApi1.Events, e => e.Status == "failed");
        }
        finally
        {
            await stopping;
            await cluster.StartAsync("silo", silo);
        }
    }

    [Fact]
    public async Task Killing_an_api_host_its_clients_resume_on_the_other_host_with_exactly_what_they_missed()
    {
        var (ada, bob, id, from) = await cluster.SharedConversationAsync();
        var reference = await bob.WatchAsync(id, from);
        var cut = await ada.WatchAsync(id, from);
        var reply = (await bob.PostAcceptedAsync(id, "keep talking")).GetProperty("assistantMessageId").GetString()!;
        await ReadDeltasAsync(cut, 3);

        await cluster.KillAsync("api", 1);
        try
        {
            try { while (await cut.NextAsync(TimeSpan.FromSeconds(10)) is not null) { } }
            catch (Exception e) when (e is HttpRequestException or IOException or HttpIOException) { }

            using var moved = new ApiUser(cluster.HttpTo(2));
            moved.Http.DefaultRequestHeaders.Authorization = new("Bearer", ada.Token); // any host accepts any host's token
            await using var resumed = await moved.WatchAsync(id, cut.Events[^1].Id);
            await resumed.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == reply);
            await reference.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == reply);

            Assert.Equal(Raw(reference), cut.Events.Concat(resumed.Events).Select(e => $"{e.Id}|{e.Type}|{e.Data.GetRawText()}"));
        }
        finally
        {
            await cut.DisposeAsync();
            await reference.DisposeAsync();
            await cluster.StartAsync("api", 1);
        }
    }

    [Fact]
    public async Task Killing_a_silo_mid_reply_leaves_the_replies_on_other_silos_untouched()
    {
        // Six conversations replying at once, spread over the three silos. The killed silo also
        // held part of the grain directory, very likely entries for conversations that run
        // elsewhere: those replies must carry on as if nothing happened. (What becomes of the
        // replies the killed silo hosted is the previous test's subject.)
        var conversations = new List<(ApiUser Ada, string Id, long From, EventStreamReader OnApi1, EventStreamReader OnApi2)>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var (ada, bob, id, from) = await cluster.SharedConversationAsync();
                conversations.Add((ada, id, from, await ada.WatchAsync(id, from), await bob.WatchAsync(id, from)));
            }
            var replies = new Dictionary<string, string>();
            foreach (var c in conversations)
                replies[c.Id] = (await c.Ada.PostAcceptedAsync(c.Id, "carry on regardless")).GetProperty("assistantMessageId").GetString()!;
            foreach (var c in conversations) await ReadDeltasAsync(c.OnApi1, 2);

            var hosts = new Dictionary<string, int>();
            foreach (var c in conversations) hosts[c.Id] = await cluster.SiloHostingAsync(c.Id);
            var victim = Enumerable.Range(1, LocalCluster.Silos).MinBy(n => hosts.Values.Count(h => h == n));
            output.WriteLine($"Killing silo {victim}; conversations per silo: {string.Join(", ", hosts.Values.GroupBy(h => h).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))}.");
            await cluster.KillAsync("silo", victim);
            try
            {
                foreach (var c in conversations)
                {
                    foreach (var watch in new[] { c.OnApi1, c.OnApi2 })
                    {
                        var end = await watch.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replies[c.Id], TimeSpan.FromSeconds(30));
                        if (hosts[c.Id] != victim) Assert.Equal("complete", end.Status);
                    }
                    Assert.Equal(Raw(c.OnApi1), Raw(c.OnApi2));
                    AssertConsecutive(c.OnApi1, c.From);
                }
            }
            finally
            {
                await cluster.StartAsync("silo", victim);
            }
        }
        finally
        {
            foreach (var c in conversations)
            {
                await c.OnApi1.DisposeAsync();
                await c.OnApi2.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Restarting_the_whole_cluster_keeps_every_completed_message_and_member_and_ids_continue()
    {
        var (ada, bob, id, _) = await cluster.SharedConversationAsync();
        await using (var post = await ada.PostAsync(id, "remember me")) await post.ReadToEndAsync();
        var before = await ada.SnapshotAsync(id);

        await cluster.StopAllAsync();
        await cluster.StartAllAsync();

        using var again = new ApiUser(cluster.HttpTo(2));
        again.Http.DefaultRequestHeaders.Authorization = new("Bearer", ada.Token);
        var after = await again.SnapshotAsync(id);
        Assert.Equal(before.GetProperty("lastEventId").GetInt64(), after.GetProperty("lastEventId").GetInt64());
        Assert.Equal(Summary(before), Summary(after));

        await using var next = await again.PostAsync(id, "still here?");
        var events = await next.ReadToEndAsync();
        Assert.Equal(before.GetProperty("lastEventId").GetInt64() + 1, events[0].Id);
        Assert.Equal("complete", events[^1].Status);
    }

    [Fact]
    public async Task After_watchers_leave_no_api_host_holds_a_feed_or_stream_subscription()
    {
        var (ada, bob, id, from) = await cluster.SharedConversationAsync();
        await using (var onApi1 = await ada.WatchAsync(id, from))
        await using (var onApi2 = await bob.WatchAsync(id, from))
        await using (var post = await ada.PostAsync(id, "brief"))
        {
            await post.ReadToEndAsync();
            await onApi2.ReadUntilAsync(e => e.Type == "message.completed");
            Assert.True((await cluster.FeedCountersAsync(1)).GetProperty("subscriptions").GetInt32() >= 1);
        }

        foreach (var host in new[] { 1, 2 })
        {
            var counters = await Eventually.Until(() => cluster.FeedCountersAsync(host),
                c => c.GetProperty("subscriptions").GetInt32() == 0 && c.GetProperty("feeds").GetInt32() == 0 && c.GetProperty("watchers").GetInt32() == 0,
                TimeSpan.FromSeconds(30), $"API host {host} lets go of its feeds");
            output.WriteLine($"api{host}: {counters}");
        }
    }

    private static List<string> Summary(System.Text.Json.JsonElement snapshot) =>
        snapshot.GetProperty("members").EnumerateArray().Select(m => $"member {m.GetProperty("userId")} {m.GetProperty("name")}")
            .Concat(snapshot.GetProperty("messages").EnumerateArray().Select(m => $"message {m.GetProperty("id")} {m.GetProperty("status")} {m.GetProperty("content")}"))
            .ToList();
}
