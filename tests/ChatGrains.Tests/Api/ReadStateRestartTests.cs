using System.Net;
using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Api;

/// <summary>Read positions, unread counts and the user's stream across a restart of the service on the same SQLite file.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class ReadStateRestartTests
{
    [Fact]
    public async Task After_a_restart_read_positions_and_unread_counts_are_kept_and_the_users_stream_continues_its_ids()
    {
        using var data = new TempDirectory();
        string id, bobToken;
        long readTo, streamLast;
        using (var server = new ApiServer(data.Path))
        {
            using var ada = await server.SignInAsync("Ada");
            using var bob = await server.SignInAsync("Bob");
            id = await ada.CreateConversationAsync("kept");
            await ada.ShareWithAsync(id, bob);
            await using (var post = await ada.PostAsync(id, "one")) await post.ReadToEndAsync();
            readTo = await ada.LastEventIdAsync(id);
            Assert.Equal(HttpStatusCode.NoContent, (await bob.MarkReadAsync(id, readTo)).StatusCode);
            await using (var post = await ada.PostAsync(id, "two")) await post.ReadToEndAsync();
            bobToken = bob.Token;
            var item = await bob.ItemAsync(id);
            await using var stream = await bob.WatchMeAsync(lastEventId: 0);
            await stream.ReadUntilAsync(e => e.Type == "conversation.updated"
                && e.Data.GetProperty("lastActivityAt").GetDateTimeOffset() == item.GetProperty("lastActivityAt").GetDateTimeOffset());
            streamLast = stream.Events[^1].Id!.Value;
        }

        using (var server = new ApiServer(data.Path))
        {
            using var bob = new ApiUser(server.CreateSocketClient());
            bob.Http.DefaultRequestHeaders.Authorization = new("Bearer", bobToken);
            var item = await bob.ItemAsync(id);
            Assert.Equal((readTo, 2), (item.GetProperty("lastReadEventId").GetInt64(), item.GetProperty("unread").GetInt32()));

            // Nothing was missed, so the stream resumes quietly; the next change takes the next id.
            await using var stream = await bob.WatchMeAsync(lastEventId: streamLast);
            Assert.Equal(HttpStatusCode.NoContent, (await bob.MarkReadAsync(id, long.MaxValue)).StatusCode);
            var next = await stream.NextAsync();
            Assert.Equal(("conversation.updated", streamLast + 1, 0), (next!.Type, next.Id, next.Data.GetProperty("unread").GetInt32()));
        }
    }
}
