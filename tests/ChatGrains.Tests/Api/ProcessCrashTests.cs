using ChatGrains.Tests.Infrastructure;

namespace ChatGrains.Tests.Api;

/// <summary>The whole service killed with SIGKILL in the middle of a reply, then started again on its data.</summary>
[Trait("Category", TestCategory.Cluster)]
public sealed class ProcessCrashTests
{
    [Fact]
    public async Task After_a_hard_kill_mid_reply_the_reply_ends_failed_with_its_text_and_ids_continue_without_gap_or_reuse()
    {
        using var data = new TempDirectory();
        var settings = new Dictionary<string, string>
        {
            ["Storage:Sqlite:DataSource"] = data.File("chatgrains.db"),
            ["Auth:KeyFile"] = data.File("signing-key"),
            ["Generator:TokensPerSecond"] = "40",
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
        };

        string id, replyId, token;
        List<Received> seen;
        await using (var service = await ServiceProcess.StartAsync(data.Path, settings))
        {
            using var ada = new ApiUser(new HttpClient { BaseAddress = service.BaseAddress, Timeout = Timeout.InfiniteTimeSpan });
            await ada.SignInAsync("Ada");
            token = ada.Token;
            id = await ada.CreateConversationAsync();
            await using var watch = await ada.WatchAsync(id, 0);
            replyId = (await ada.PostAcceptedAsync(id, "a long reply, please")).GetProperty("assistantMessageId").GetString()!;
            var deltas = 0;
            await watch.ReadUntilAsync(e => e.Type == "message.delta" && ++deltas == 4);
            await service.KillAsync();
            seen = watch.Events.ToList();
        }

        settings["Orleans:SiloPort"] = FreePort.Next().ToString();
        settings["Orleans:GatewayPort"] = FreePort.Next().ToString();
        await using (var service = await ServiceProcess.StartAsync(data.Path, settings))
        {
            using var ada = new ApiUser(new HttpClient { BaseAddress = service.BaseAddress, Timeout = Timeout.InfiniteTimeSpan });
            ada.Http.DefaultRequestHeaders.Authorization = new("Bearer", token);

            // The client resumes where it was cut off and sees the reply end.
            await using var resumed = await ada.WatchAsync(id, seen[^1].Id);
            var end = await resumed.ReadUntilAsync(e => e.Type == "message.completed" && e.MessageId == replyId);
            Assert.Equal("failed", end.Status);
            Assert.Equal("interrupted", end.Data.GetProperty("error").GetString());

            var all = seen.Concat(resumed.Events).ToList();
            Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long?)i), all.Select(e => e.Id));
            Assert.Equal(string.Concat(all.Select(e => e.Delta)), end.Data.GetProperty("content").GetString());

            var message = (await ada.SnapshotAsync(id)).GetProperty("messages")[1];
            Assert.Equal("failed", message.GetProperty("status").GetString());
            Assert.Equal(end.Data.GetProperty("content").GetString(), message.GetProperty("content").GetString());

            await using var next = await ada.PostAsync(id, "are you back?");
            var events = await next.ReadToEndAsync();
            Assert.Equal(end.Id + 1, events[0].Id);
            Assert.Equal("complete", events[^1].Status);
        }
    }
}
