using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Api;

/// <summary>The service stopped and started again on the same SQLite file.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class RestartTests
{
    [Fact]
    public async Task After_a_restart_conversations_and_completed_messages_are_there_and_ids_continue()
    {
        using var data = new TempDirectory();
        string id, token;
        long lastBefore;
        string snapshotBefore;
        using (var server = new ApiServer(data.Path))
        {
            using var ada = await server.SignInAsync("Ada");
            using var bob = await server.SignInAsync("Bob");
            id = await ada.CreateConversationAsync("Kept");
            await ada.ShareWithAsync(id, bob);
            await using (var post = await ada.PostAsync(id, "Remember this")) await post.ReadToEndAsync();
            token = ada.Token;
            lastBefore = await ada.LastEventIdAsync(id);
            snapshotBefore = (await ada.SnapshotAsync(id)).GetRawText();
        }

        using (var server = new ApiServer(data.Path))
        {
            // The same token still works: the signing key was kept with the data.
            using var ada = new ApiUser(server.CreateSocketClient());
            ada.Http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(snapshotBefore, (await ada.SnapshotAsync(id)).GetRawText());

            await using var post = await ada.PostAsync(id, "And this");
            var events = await post.ReadToEndAsync();
            Assert.Equal(lastBefore + 1, events[0].Id);
            Assert.Equal("complete", events[^1].Status);
        }
    }
}
