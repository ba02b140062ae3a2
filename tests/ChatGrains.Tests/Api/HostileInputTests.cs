using System.Net.Http.Json;
using System.Text.Json;
using ChatGrains.Tests.Api.Hostile;
using ChatGrains.Tests.Infrastructure;
using CsCheck;
using Xunit.Abstractions;

namespace ChatGrains.Tests.Api;

/// <summary>
/// Generated hostile input on every route of the real service, over real sockets. Every answer
/// is a 2xx of the contract or a 4xx problem+json, within a deadline; the host stays healthy; and
/// afterwards every conversation holds what it held before plus exactly what the valid requests
/// did. CsCheck prints the seed of a failing run (replay it with CsCheck_Seed=…) and the smallest
/// failing request it found. CHATGRAINS_FUZZ_ITERATIONS sets the number of requests (default 400).
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class HostileInputTests(ApiServerFixture fixture, ITestOutputHelper output) : IClassFixture<ApiServerFixture>
{
    private static readonly long Iterations = long.TryParse(Environment.GetEnvironmentVariable("CHATGRAINS_FUZZ_ITERATIONS"), out var n) ? n : 400;

    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task Hostile_requests_on_every_route_get_contract_answers_and_change_only_what_valid_ones_did()
    {
        using var world = await FuzzWorld.SetUpAsync(_server);
        var before = await SnapshotsAsync(world);
        var lists = await ListsAsync(world);
        var model = new ConversationModel();
        using var client = new ProbeClient(_server.BaseAddress);
        using var health = _server.CreateSocketClient();
        var tally = new SortedDictionary<string, int>();

        var failure = await Record.ExceptionAsync(() => new HostileRequests(world).Any.SampleAsync(async probe =>
        {
            var target = model.Resolve(probe);
            var answer = await client.SendAsync(probe, target);
            var verdict = model.Predict(probe);
            model.Record(probe, target, answer);
            var kind = $"{probe.Route} {answer.Status}{(probe.NeedsRawSocket ? " raw" : "")}";
            tally[kind] = tally.GetValueOrDefault(kind) + 1;
            AnswerContract.Check(probe, verdict, answer);
            using var alive = new CancellationTokenSource(ProbeClient.Deadline);
            Assert.True((await health.GetAsync("/health", alive.Token)).IsSuccessStatusCode, "GET /health after the request");
        }, writeLine: output.WriteLine, iter: Iterations, threads: 1, print: p => p.ToString()));

        output.WriteLine(string.Join("\n", tally.Select(t => $"{t.Key}: {t.Value}")));
        // What the run did to the conversations is checked even when a request failed, so one
        // run reports both.
        await AssertOnlyValidRequestsChangedAnythingAsync(world, model, before, lists);
        Assert.Empty(model.Violations);
        if (failure is not null) throw failure;
    }

    private async Task AssertOnlyValidRequestsChangedAnythingAsync(FuzzWorld world, ConversationModel model, Dictionary<string, JsonElement> before, Dictionary<string, int> lists)
    {
        foreach (var id in world.Conversations)
        {
            var owner = world.OwnerOf(id);
            // Replies the run started end on their own; only then is the final state known.
            var after = await Eventually.Until(() => owner.SnapshotAsync(id),
                s => s.GetProperty("messages").EnumerateArray().All(m => m.GetProperty("status").GetString() is "complete" or "cancelled" or "failed"),
                TimeSpan.FromSeconds(120), $"every reply in {id} has ended");
            var was = before[id];
            foreach (var field in new[] { "id", "title", "ownerId", "createdAt", "members" })
                Assert.Equal(was.GetProperty(field).GetRawText(), after.GetProperty(field).GetRawText());

            var oldMessages = was.GetProperty("messages").EnumerateArray().ToList();
            var messages = after.GetProperty("messages").EnumerateArray().ToList();
            Assert.True(messages.Count >= oldMessages.Count, "no message is lost");
            for (var i = 0; i < oldMessages.Count; i++) Assert.Equal(oldMessages[i].GetRawText(), messages[i].GetRawText());

            // The new messages are the accepted prompts, in order, each followed by its reply.
            var added = messages.Skip(oldMessages.Count).ToList();
            Assert.True(added.Count % 2 == 0, $"prompts and replies come in pairs: {string.Join(", ", added.Select(m => m.GetProperty("role")))}");
            var expected = new Queue<ConversationModel.Prompt>(model.PromptsIn(id));
            for (var i = 0; i < added.Count; i += 2)
            {
                var (prompt, reply) = (added[i], added[i + 1]);
                while (expected.TryPeek(out var maybe) && maybe.Uncertain && !Matches(maybe, prompt)) expected.Dequeue();
                Assert.True(expected.TryDequeue(out var next) && Matches(next, prompt), $"message {prompt} was posted by a valid request of the run");
                Assert.Equal("user", prompt.GetProperty("role").GetString());
                Assert.Equal("assistant", reply.GetProperty("role").GetString());
                Assert.Equal(prompt.GetProperty("id").GetString(), reply.GetProperty("replyTo").GetString());
                var replyId = reply.GetProperty("id").GetString()!;
                Assert.Equal(model.Cancelled.Contains(replyId) ? "cancelled" : "complete", reply.GetProperty("status").GetString());
            }
            Assert.True(expected.All(p => p.Uncertain), $"every accepted prompt is in {id}; missing: {string.Join(", ", expected.Select(p => p.Content))}");

            await AssertEventsAccountForTheChangesAsync(owner, id, was.GetProperty("lastEventId").GetInt64(), after, added);
        }
        foreach (var person in world.People)
        {
            var count = (await person.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length;
            Assert.Equal(lists[person.UserId] + model.Created.GetValueOrDefault(person.UserId), count);
        }
    }

    private static bool Matches(ConversationModel.Prompt expected, JsonElement prompt) =>
        prompt.GetProperty("authorId").GetString() == expected.AuthorId
        && (expected.Content is null || prompt.GetProperty("content").GetString() == expected.Content);

    /// <summary>The events after the old lastEventId are exactly those of the new exchanges (and cancels), with consecutive ids up to the new lastEventId.</summary>
    private static async Task AssertEventsAccountForTheChangesAsync(ApiUser owner, string id, long from, JsonElement after, List<JsonElement> added)
    {
        var last = after.GetProperty("lastEventId").GetInt64();
        if (added.Count == 0)
        {
            Assert.Equal(from, last);
            return;
        }
        await using var watch = await owner.WatchAsync(id, from);
        var events = new List<Received>();
        while (events.Count == 0 || events[^1].Id < last) events.Add(await watch.NextAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("the replay ended early"));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => from + i), events.Select(e => e.Id!.Value));
        Assert.All(events, e => Assert.Contains(e.Type, new[] { "message.created", "message.delta", "message.completed", "conversation.head" }));
        var newIds = added.Select(m => m.GetProperty("id").GetString()).ToHashSet();
        Assert.Equal(newIds, events.Where(e => e.Type == "message.created").Select(e => e.MessageId).ToHashSet());
        Assert.All(events, e => Assert.Contains(e.MessageId, newIds));
    }

    private static async Task<Dictionary<string, JsonElement>> SnapshotsAsync(FuzzWorld world) =>
        new(await Task.WhenAll(world.Conversations.Select(async id => KeyValuePair.Create(id, await world.OwnerOf(id).SnapshotAsync(id)))));

    private static async Task<Dictionary<string, int>> ListsAsync(FuzzWorld world) =>
        new(await Task.WhenAll(world.People.Select(async p => KeyValuePair.Create(p.UserId, (await p.Http.GetFromJsonAsync<JsonElement[]>("/api/conversations"))!.Length))));
}

/// <summary>The answer the contract allows for a request, given its verdict.</summary>
public static class AnswerContract
{
    public static void Check(Probe probe, Verdict verdict, Answer answer)
    {
        var status = answer.Status;
        Assert.True(status is >= 200 and < 300 or >= 400 and < 500, $"never a {status}: {answer}");
        if (status >= 400)
        {
            // Kestrel's HTTP parser refuses what is not valid HTTP or is over its limits before any
            // middleware runs, with an empty body: that is the one 4xx that is not problem+json.
            if (answer.Body.Length == 0 && probe.MayBeRefusedByKestrel && status is 400 or 413 or 414 or 431) return;
            Assert.True(answer.MediaType == "application/problem+json", $"a {status} is problem+json: {answer}");
            var problem = JsonDocument.Parse(answer.Body).RootElement;
            Assert.Equal(status, problem.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), "a problem has a title");
            Assert.True(verdict != Verdict.Accepted, $"a valid request is served, not refused: {answer}");
            return;
        }
        Assert.True(verdict != Verdict.Refused, $"a request the contract refuses is refused, not served: {answer}");
        switch (probe.Route)
        {
            case Route.SignIn:
                Assert.Equal(200, status);
                AssertJson(answer, b => b.GetProperty("token").GetString() is { Length: > 0 } && b.GetProperty("userId").GetString() is { Length: > 0 } && b.GetProperty("name").ValueKind == JsonValueKind.String);
                break;
            case Route.CreateConversation:
                Assert.Equal(201, status);
                Assert.True(answer.Headers.ContainsKey("Location"), "a created conversation has a Location");
                AssertJson(answer, IsSnapshot);
                break;
            case Route.ListConversations:
                Assert.Equal(200, status);
                AssertJson(answer, b => b.ValueKind == JsonValueKind.Array);
                break;
            case Route.Conversation:
                Assert.Equal(200, status);
                AssertJson(answer, IsSnapshot);
                break;
            case Route.Messages:
                Assert.Equal(200, status);
                AssertJson(answer, b => b.GetProperty("messages").ValueKind == JsonValueKind.Array && b.GetProperty("hasMore").ValueKind is JsonValueKind.True or JsonValueKind.False);
                break;
            case Route.Invite:
                Assert.Equal(201, status);
                AssertJson(answer, b => b.GetProperty("inviteToken").GetString() is { Length: > 0 });
                break;
            case Route.PostMessage when WantsJson(probe):
                Assert.Equal(202, status);
                AssertJson(answer, b => b.GetProperty("userMessageId").GetString() is not null && b.GetProperty("assistantMessageId").GetString() is not null && b.GetProperty("eventId").GetInt64() > 0);
                break;
            case Route.PostMessage or Route.Watch:
                Assert.Equal(200, status);
                AssertEventStream(answer);
                break;
            case Route.Cancel:
                Assert.Equal(202, status);
                break;
            default:
                Assert.Fail($"{probe.Route} is not a route that serves anything: {answer}");
                break;
        }
    }

    private static bool IsSnapshot(JsonElement b) =>
        b.GetProperty("id").GetString() is not null && b.GetProperty("members").ValueKind == JsonValueKind.Array
        && b.GetProperty("messages").ValueKind == JsonValueKind.Array && b.GetProperty("lastEventId").ValueKind == JsonValueKind.Number;

    private static void AssertJson(Answer answer, Func<JsonElement, bool> shape)
    {
        Assert.True(answer.MediaType == "application/json", $"a JSON answer: {answer}");
        Assert.True(shape(JsonDocument.Parse(answer.Body).RootElement), $"the contract's shape: {answer}");
    }

    private static void AssertEventStream(Answer answer)
    {
        Assert.True(answer.IsEventStream, $"an event stream: {answer}");
        Assert.True(answer.Headers.TryGetValue("Cache-Control", out var cache) && cache.Contains("no-cache"), "an event stream is not cached");
        Assert.StartsWith("retry:", answer.Text);
    }

    /// <summary>The contract's rule: an explicit application/json, and no text/event-stream, gets the 202.</summary>
    private static bool WantsJson(Probe probe) =>
        probe.Headers.FirstOrDefault(h => h.Name == "Accept")?.Value is { } accept
        && accept.Contains("application/json", StringComparison.OrdinalIgnoreCase)
        && !accept.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
}
