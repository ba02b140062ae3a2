using System.Diagnostics;
using ChatGrains.Hosting;
using ChatGrains.Tests.Api;
using ChatGrains.Tests.Generation.Fakes;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Telemetry;

/// <summary>The real service, its model a fake OpenAI server, its telemetry exported to memory.</summary>
public sealed class TelemetryFixture : ApiServerFixture
{
    // Initialized before the base constructor starts the service.
    public FakeOpenAiServer Model { get; } = new() { TokenInterval = TimeSpan.FromMilliseconds(10) };
    public CapturedTelemetry Telemetry { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Generator:Provider"] = "OpenAI",
        ["Generator:Endpoint"] = Model.Endpoint,
        ["Generator:Model"] = "gpt-fake",
        ["Generator:ApiKey"] = "sk-telemetry-test-key",
        ["Telemetry:Enabled"] = "true",
    };

    protected override Action<IServiceCollection> ConfigureServices => Telemetry.AddTo;
}

/// <summary>
/// One prompt is one trace an operator can follow from the POST through the grain and the
/// model request to the stream that delivered the reply; the meters report what happened.
/// </summary>
[Trait("Category", TestCategory.Api)]
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests(TelemetryFixture fixture) : IClassFixture<TelemetryFixture>
{
    private readonly ApiServer _server = fixture.Server;
    private readonly CapturedTelemetry _telemetry = fixture.Telemetry;

    [Fact]
    public async Task A_posted_prompt_is_one_connected_trace_through_the_grain_the_model_and_the_streams()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        await using var watch = await ada.WatchAsync(id);
        fixture.Model.Then(new Answer.Stream(["Traces", " are", " connected", "."]));

        await using (var post = await ada.PostAsync(id, "Can I follow this?")) await post.ReadToEndAsync();

        var request = await Eventually.Until(
            () => Task.FromResult(_telemetry.Spans.Snapshot().FirstOrDefault(s =>
                s.Source.Name == "Microsoft.AspNetCore" && s.Kind == ActivityKind.Server
                && s.GetTagItem("url.path") as string == $"/api/conversations/{id}/messages")),
            s => s is not null, TimeSpan.FromSeconds(10), "the POST's request span is exported");
        string[] expected = ["chatgrains.reply", "chatgrains.commit", "chatgrains.publish", "chatgrains.feed.reply", "chatgrains.sse.reply"];
        var trace = await Eventually.Until(
            () => Task.FromResult(_telemetry.Trace(request!.TraceId)),
            t => expected.All(name => t.Any(s => s.DisplayName == name)) && t.Count(s => s.DisplayName == "chatgrains.sse.reply") >= 2
                 && t.Any(IsModelRequest),
            TimeSpan.FromSeconds(10), "the trace holds the grain's, the model's and both streams' spans");

        var byId = trace.ToDictionary(s => s.SpanId);
        Assert.Contains(trace, s => s.Source.Name == TelemetryHosting.OrleansApplicationSource && s.DisplayName.EndsWith("PostAsync"));
        // Connected: every span but the trace's first has its parent in the trace.
        Assert.Single(trace, s => !byId.ContainsKey(s.ParentSpanId));
        var reply = trace.Single(s => s.DisplayName == "chatgrains.reply");
        Assert.Equal("complete", reply.GetTagItem("chatgrains.reply.status"));
        Assert.Equal(4, reply.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(reply.SpanId, trace.Single(IsModelRequest).ParentSpanId);
        // The reply's end is committed and published inside its span.
        Assert.Contains(trace, s => s.DisplayName == "chatgrains.commit" && s.ParentSpanId == reply.SpanId);
        var feed = trace.Single(s => s.DisplayName == "chatgrains.feed.reply");
        Assert.Equal(reply.SpanId, feed.ParentSpanId);
        Assert.Equal(2, feed.GetTagItem("chatgrains.watchers"));
        // One span per stream for the whole reply, not one per event.
        var streams = trace.Where(s => s.DisplayName == "chatgrains.sse.reply").ToList();
        Assert.Equal(2, streams.Count);
        Assert.All(streams, s => Assert.Equal(feed.SpanId, s.ParentSpanId));
        Assert.All(streams, s => Assert.Equal(feed.GetTagItem("chatgrains.events"), s.GetTagItem("chatgrains.events")));
        Assert.True(reply.StartTimeUtc >= request!.StartTimeUtc && feed.StartTimeUtc >= reply.StartTimeUtc);
    }

    [Fact]
    public async Task The_meters_report_replies_tokens_latencies_and_the_frameworks_instruments()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        fixture.Model.Then(new Answer.Stream(["Metrics", " are", " real", "."]));
        await using (var post = await ada.PostAsync(id, "Count this")) await post.ReadToEndAsync();

        var services = _server.Services;
        // The silo records a reply's figures once its completion is published, so a client can
        // read the end of the stream a moment before they are there.
        await Eventually.Until(() => Task.FromResult(Sum(_telemetry.Points(services, "chatgrains.reply.tokens"))), n => n >= 4,
            TimeSpan.FromSeconds(10), "the reply's tokens are counted");
        Assert.True(Sum(_telemetry.Points(services, "chatgrains.replies")) >= 1, "replies");
        // Observed, not counted: other services in this test process have meters of the same name.
        Assert.NotEmpty(_telemetry.Points(services, "chatgrains.replies.active"));
        foreach (var histogram in new[] { "chatgrains.reply.time_to_first_token", "chatgrains.commit.duration", "chatgrains.delta.latency" })
        {
            var points = _telemetry.Points(services, histogram);
            Assert.True(points.Sum(p => p.GetHistogramCount()) >= 1, histogram);
            Assert.True(points.Sum(p => p.GetHistogramSum()) > 0, histogram);
        }
        Assert.NotEmpty(_telemetry.Points(services, "chatgrains.watchers"));
        Assert.Contains("http.server.request.duration", _telemetry.Instruments(services, "Microsoft.AspNetCore.Hosting"));
        Assert.Contains("http.client.request.duration", _telemetry.Instruments(services, "System.Net.Http"));
        Assert.NotEmpty(_telemetry.Instruments(services, TelemetryHosting.OrleansMeter));
        Assert.Contains("dotnet.gc.collections", _telemetry.Instruments(services, TelemetryHosting.RuntimeMeter));
    }

    private static bool IsModelRequest(Activity s) =>
        s.Kind == ActivityKind.Client && (s.GetTagItem("url.full") as string)?.Contains("/v1/chat/completions") == true;

    private static long Sum(IEnumerable<OpenTelemetry.Metrics.MetricPoint> points) => points.Sum(p => p.GetSumLong());
}

/// <summary>
/// Run alone. ASP.NET Core's meters are made per host by its IMeterFactory but carry one name,
/// and OpenTelemetry's providers listen by name: another test's host stopping while these run
/// disposes its "Microsoft.AspNetCore.Hosting" instruments, and the provider here then drops
/// the metric they shared with this host's (seen in CI as http.server.request.duration missing).
/// One host per process, as in production, has no such neighbour.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry, alone in the process";
}
