using System.Diagnostics;
using System.Net;
using ChatGrains.Tests.Api;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Cluster;

/// <summary>Removal across API hosts: the removed member's streams end on whichever host serves them.</summary>
[Trait("Category", TestCategory.Cluster)]
[Collection(ClusterCollection.Name)]
public sealed class PeopleClusterTests(LocalCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task A_removal_on_one_api_host_ends_the_removed_members_streams_on_the_other_within_2_seconds()
    {
        var (ada, bob, id, from) = await cluster.SharedConversationAsync();
        await using var bobWatch = await bob.WatchAsync(id, from);
        await using var bobPost = await bob.PostAsync(id, "a question answered slowly");
        await bobPost.ReadUntilAsync(e => e.Type == "message.delta", TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await ada.RemoveAsync(id, bob.UserId)).StatusCode);
        var answered = clock.Elapsed;
        foreach (var stream in new[] { bobWatch, bobPost })
        {
            var events = await stream.ReadToEndAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(("member.left", bob.UserId), (events[^1].Type, events[^1].Data.GetProperty("userId").GetString()));
        }
        var ended = clock.Elapsed;

        output.WriteLine($"Removal on API host 1 answered in {answered.TotalMilliseconds:F0} ms; both of the removed member's streams on API host 2 ended {ended.TotalMilliseconds:F0} ms after the DELETE was sent.");
        Assert.True(ended < TimeSpan.FromSeconds(2), $"the streams ended after {ended}");
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync($"/api/conversations/{id}")).StatusCode);
    }
}
