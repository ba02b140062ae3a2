using System.Diagnostics;
using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using ChatGrains.Tests.Api;

namespace ChatGrains.Tests.Cluster;

/// <summary>One user's concurrent prompts on both API hosts of the real cluster, against one daily budget.</summary>
[Trait("Category", TestCategory.Cluster)]
[Collection(ClusterCollection.Name)]
public sealed class BudgetClusterTests(LocalCluster cluster)
{
    private const int WorkersPerHost = 2;

    [Fact]
    public async Task Concurrent_prompts_from_one_user_on_both_hosts_are_refused_from_the_moment_a_reply_crosses_the_budget()
    {
        // The same user signed in on each host; each worker prompts in its own conversation (so
        // the replies run side by side) until refused. A prompt of ~8k tokens makes the budget
        // last a few rounds.
        using var first = await cluster.SignInAsync(1, "Ada");
        using var second = new ApiUser(cluster.HttpTo(2));
        second.Http.DefaultRequestHeaders.Authorization = first.Http.DefaultRequestHeaders.Authorization;
        var prompt = string.Join(' ', Enumerable.Range(0, 4000).Select(i => $"w{i}"));
        var clock = Stopwatch.StartNew();
        var replies = new System.Collections.Concurrent.ConcurrentBag<(TimeSpan PostedAt, TimeSpan CompletedAt, int Tokens)>();

        async Task<HttpResponseMessage> WorkAsync(ApiUser user)
        {
            var id = await user.CreateConversationAsync();
            while (true)
            {
                var postedAt = clock.Elapsed;
                var response = await user.PostRawAsync(id, JsonSerializer.Serialize(new { content = prompt }), "text/event-stream");
                if (response.StatusCode != HttpStatusCode.OK) return response;
                using (response)
                {
                    var completed = await CompletedAsync(response);
                    var (p, c) = BudgetRequests.Tokens(completed.GetProperty("usage"));
                    replies.Add((postedAt, clock.Elapsed, p + c));
                }
            }
        }

        var ends = await Task.WhenAll(Enumerable.Range(0, WorkersPerHost).SelectMany(_ => new[] { WorkAsync(first), WorkAsync(second) }));

        foreach (var end in ends) await Problems.AssertAsync(end, 429, "the budget is spent");
        var charged = await first.UsageAsync();
        var total = charged.GetProperty("promptTokens").GetInt32() + charged.GetProperty("completionTokens").GetInt32();
        // Every reply was charged once, whichever host and silo it ran on.
        Assert.Equal(replies.Sum(r => r.Tokens), total);
        Assert.True(total >= LocalCluster.TokensPerUserPerDay, $"{total} tokens in {replies.Count} replies");
        // The crossing: the completion that took the day's total to the budget. Once a client had
        // seen it, no prompt was accepted; only the replies already running went over.
        var sum = 0;
        var crossedAt = replies.OrderBy(r => r.CompletedAt).First(r => (sum += r.Tokens) >= LocalCluster.TokensPerUserPerDay).CompletedAt;
        Assert.DoesNotContain(replies, r => r.PostedAt > crossedAt);
        Assert.InRange(replies.Count(r => r.CompletedAt > crossedAt), 0, 2 * WorkersPerHost - 1);
    }

    /// <summary>The exchange's <c>message.completed</c>, read from the POST's own event stream.</summary>
    private static async Task<JsonElement> CompletedAsync(HttpResponseMessage response)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var body = await response.Content.ReadAsStreamAsync(timeout.Token);
        await foreach (var item in SseParser.Create(body).EnumerateAsync(timeout.Token))
        {
            if (item.EventType == "message.completed") return JsonDocument.Parse(item.Data).RootElement.Clone();
        }
        throw new InvalidOperationException("The exchange's stream ended without its message.completed.");
    }
}
