using ChatGrains.Tests.Api;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Cluster;

/// <summary>The user's own stream in the real cluster: their conversations live on any silo, their watchers on any API host.</summary>
[Trait("Category", TestCategory.Cluster)]
[Collection(ClusterCollection.Name)]
public sealed class UserStreamClusterTests(LocalCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task The_users_stream_on_one_api_host_follows_a_conversation_posted_to_through_the_other()
    {
        using var ada = await cluster.SignInAsync(1, "Ada");
        using var bob = await cluster.SignInAsync(2, "Bob");
        await using var bobs = await bob.WatchMeAsync(lastEventId: 0);

        var id = await ada.CreateConversationAsync("across hosts");
        await ada.ShareWithAsync(id, bob);
        var added = await bobs.ReadUntilAsync(e => e.Type == "conversation.added");
        Assert.Equal(id, added.Data.GetProperty("id").GetString());
        output.WriteLine($"The conversation lives on silo {await cluster.SiloHostingAsync(id)}.");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var post = await ada.PostAsync(id, "posted through the first host"))
        {
            await post.ReadUntilAsync(e => e.Type == "message.created");
            var created = clock.Elapsed;
            await bobs.ReadUntilAsync(e => e.Type == "conversation.updated");
            output.WriteLine($"Post to Ada's prompt on host 1's stream: {created.TotalMilliseconds:F0} ms; to Bob's conversation.updated on host 2: {clock.Elapsed.TotalMilliseconds:F0} ms.");
            await post.ReadToEndAsync();
        }
        var item = await bob.ItemAsync(id);
        var update = await bobs.ReadUntilAsync(e => e.Type == "conversation.updated"
            && e.Data.GetProperty("lastActivityAt").GetDateTimeOffset() == item.GetProperty("lastActivityAt").GetDateTimeOffset());
        Assert.Equal(2, update.Data.GetProperty("unread").GetInt32());
        Assert.Equal(Enumerable.Range(1, bobs.Events.Count).Select(i => (long?)i), bobs.Events.Select(e => e.Id));
    }
}
