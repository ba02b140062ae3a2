using System.Net;
using ChatGrains.Tests.Generation.Fakes;
using ChatGrains.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGrains.Tests.Api;

/// <summary>
/// A token sent as <c>?access_token=</c> never reaches a log, even with every ASP.NET Core
/// category turned up to Debug (the hosting diagnostics write request lines, query included,
/// at Information).
/// </summary>
[Trait("Category", TestCategory.Api)]
public sealed class QueryTokenLogTests : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly CapturedLogs _logs = new();
    private readonly ApiServer _server;

    public QueryTokenLogTests()
    {
        _server = new ApiServer(_data.Path, new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Debug",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug",
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting"] = "Debug",
        }, services => services.AddSingleton<ILoggerProvider>(_logs));
    }

    [Fact]
    public async Task A_query_token_is_never_written_to_the_logs()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        using var eventSource = new HttpClient { BaseAddress = _server.BaseAddress };
        var query = $"access_token={Uri.EscapeDataString(ada.Token)}";

        using (var watch = await eventSource.GetAsync($"/api/conversations/{id}/events?{query}", HttpCompletionOption.ResponseHeadersRead))
            Assert.Equal(HttpStatusCode.OK, watch.StatusCode);
        // Refused where it is not accepted, and with a resume point the route rejects.
        Assert.Equal(HttpStatusCode.Unauthorized, (await eventSource.GetAsync($"/api/conversations?{query}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await eventSource.GetAsync($"/api/conversations/{id}/events?lastEventId=x&{query}")).StatusCode);

        // The capture is live at Debug: the watch request's routing and authentication were logged.
        await Eventually.Until(() => Task.FromResult(_logs.Lines.Count(l => l.Contains("/api/conversations/{id}/events"))), n => n >= 2,
            TimeSpan.FromSeconds(10), "the watch requests are logged");
        var signature = ada.Token[(ada.Token.LastIndexOf('.') + 1)..];
        Assert.DoesNotContain(_logs.Lines, line => line.Contains(signature) || line.Contains("access_token"));
    }

    public void Dispose()
    {
        _server.Dispose();
        _data.Dispose();
    }
}
