using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace ChatGrains.Tests.Api;

/// <summary>A feed that waits 2 s of silence before it reads the grain: time enough to collect a deleted conversation first.</summary>
public sealed class PatientFeedFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Feeds:StallTimeout"] = "00:00:02" };
}

/// <summary>A host that missed a deletion on the stream still ends its watchers, from what the grain says.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class PeopleFeedTests(QuickFeedFixture fixture, PatientFeedFixture patient) : IClassFixture<QuickFeedFixture>, IClassFixture<PatientFeedFixture>
{
    private readonly ApiServer _server = fixture.Server;

    private static async Task LoseTheFeedsSubscriptionAsync(ApiServer server, string id)
    {
        var stream = server.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ConversationStreams.Provider)
            .GetStream<ConversationEvent>(ConversationStreams.For(id));
        foreach (var handle in await stream.GetAllSubscriptionHandles()) await handle.UnsubscribeAsync();
    }

    [Fact]
    public async Task A_watch_whose_feed_missed_the_delete_on_the_stream_ends_after_conversation_deleted_read_from_the_grain()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var watch = await ada.WatchAsync(id, 0);
        var reply = (await ada.PostAcceptedAsync(id, "a reply to cut short")).GetProperty("assistantMessageId").GetString();
        await watch.ReadUntilAsync(e => e.Type == "message.delta");

        // Lose the feed's subscription behind its back, then delete while the reply streams:
        // the feed hears nothing, and reads the grain once the silence lasts too long.
        await LoseTheFeedsSubscriptionAsync(_server, id);
        Assert.Equal(HttpStatusCode.NoContent, (await ada.DeleteConversationAsync(id)).StatusCode);

        var events = await watch.ReadToEndAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("conversation.deleted", events[^1].Type);
        var completed = events.Single(e => e.Type == "message.completed");
        Assert.Equal((reply, "cancelled"), (completed.MessageId, completed.Status));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long?)i), events.Select(e => e.Id));
    }

    [Fact]
    public async Task A_watch_whose_feed_missed_the_delete_ends_when_the_grain_says_the_log_is_gone()
    {
        var server = patient.Server;
        using var ada = await server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var watch = await ada.WatchAsync(id, 0);
        await ada.PostAcceptedAsync(id, "a reply to cut short");
        await watch.ReadUntilAsync(e => e.Type == "message.delta");

        await LoseTheFeedsSubscriptionAsync(server, id);
        Assert.Equal(HttpStatusCode.NoContent, (await ada.DeleteConversationAsync(id)).StatusCode);
        // The deleted activation goes before the feed's silence check reads the grain: a fresh one
        // finds nothing in the store, and the log's last events are gone with it.
        var grains = server.Services.GetRequiredService<IGrainFactory>();
        await Infrastructure.Eventually.Until(async () =>
        {
            await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
            return await grains.GetGrain<IConversationGrain>(id).ReadEventsAsync(0, 10);
        }, page => page is { Gone: true, Events.Count: 0 }, TimeSpan.FromSeconds(1), "a fresh activation finds the log gone");

        var events = await watch.ReadToEndAsync(TimeSpan.FromSeconds(10));
        Assert.True(watch.Ended);
        Assert.DoesNotContain(events, e => e.Type == "conversation.deleted");
        Assert.Equal(HttpStatusCode.NotFound, (await ada.Http.GetAsync($"/api/conversations/{id}")).StatusCode);
    }
}
