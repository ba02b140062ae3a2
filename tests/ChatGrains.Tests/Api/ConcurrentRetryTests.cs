using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>Retries that arrive all at once: a client (or a proxy) re-sending one prompt on many connections.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class ConcurrentRetryTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const int Posts = 200;

    [Fact]
    public async Task Two_hundred_concurrent_posts_with_one_idempotency_key_create_exactly_one_exchange()
    {
        var server = fixture.Server;
        using var ada = await server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        // One connection per request, all open at once.
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Posts + 10 })
        {
            BaseAddress = server.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ada.Token);

        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        HttpRequestMessage Post(string accept)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/messages") { Content = JsonContent.Create(new { content = "only once, please" }) };
            request.Headers.Add("Idempotency-Key", "the-one-key");
            request.Headers.Accept.ParseAdd(accept);
            return request;
        }
        var accepted = Enumerable.Range(0, Posts / 2).Select(_ => Task.Run(async () =>
        {
            await go.Task;
            using var response = await http.SendAsync(Post("application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetRawText();
        })).ToList();
        var streamed = Enumerable.Range(0, Posts / 2).Select(_ => Task.Run(async () =>
        {
            await go.Task;
            await using var stream = await EventStreamReader.OpenAsync(http, Post("text/event-stream"));
            return await stream.ReadToEndAsync(TimeSpan.FromSeconds(60));
        })).ToList();
        go.SetResult();
        var answers = await Task.WhenAll(accepted);
        var streams = await Task.WhenAll(streamed);

        // Every 202 names the same exchange.
        var ids = JsonDocument.Parse(answers[0]).RootElement;
        Assert.All(answers, a => Assert.Equal(answers[0], a));
        var (promptId, replyId) = (ids.GetProperty("userMessageId").GetString(), ids.GetProperty("assistantMessageId").GetString());

        // Every stream carries that exchange, the same events with the same ids, to its reply's end.
        string Sequence(List<Received> events) => string.Join(" ", events.Select(e => $"{e.Id}:{e.Type}:{e.MessageId}"));
        var first = streams[0];
        Assert.All(streams, s => Assert.Equal(Sequence(first), Sequence(s)));
        Assert.Equal(("message.created", promptId, ids.GetProperty("eventId").GetInt64()), (first[0].Type, first[0].MessageId, first[0].Id!.Value));
        Assert.Contains(first, e => e.Type == "message.created" && e.MessageId == replyId);
        Assert.Equal(("message.completed", replyId, "complete"), (first[^1].Type, first[^1].MessageId, first[^1].Status));

        // The conversation holds one prompt and one reply, and its log ends where the streams did.
        var snapshot = await ada.SnapshotAsync(id);
        var messages = snapshot.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal([promptId, replyId], messages.Select(m => m.GetProperty("id").GetString()));
        Assert.Equal("only once, please", messages[0].GetProperty("content").GetString());
        Assert.Equal(string.Concat(first.Select(e => e.Delta)), messages[1].GetProperty("content").GetString());
        Assert.Equal(first[^1].Id, snapshot.GetProperty("lastEventId").GetInt64());
        Assert.Equal(Enumerable.Range(1, first.Count).Select(i => (long?)i), first.Select(e => e.Id));
    }
}
