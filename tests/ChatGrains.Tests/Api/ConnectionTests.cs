using System.Net;
using System.Net.Sockets;
using System.Text;
using ChatGrains.Api.Feeds;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace ChatGrains.Tests.Api;

public sealed class FastHeartbeatFixture : ApiServerFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Feeds:HeartbeatInterval"] = "00:00:00.400",
        ["Feeds:WatcherBuffer"] = "256",
        ["Generator:TokensPerSecond"] = "0",
        ["Server:ListenBacklog"] = "3000",
    };

    /// <summary>
    /// Small kernel send buffers on the server's sockets, so that a client that stops reading
    /// backs up into the server within a few hundred kilobytes rather than megabytes.
    /// </summary>
    protected override Action<IServiceCollection> ConfigureServices => services =>
        services.Configure<SocketTransportOptions>(o => o.CreateBoundListenSocket = endpoint =>
        {
            var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            socket.SendBufferSize = 8192;
            return socket;
        });
}

/// <summary>What a connection sees when nothing happens, and what happens to one that stops reading.</summary>
[Trait("Category", TestCategory.Api)]
public sealed class ConnectionTests(FastHeartbeatFixture fixture) : IClassFixture<FastHeartbeatFixture>
{
    private readonly ApiServer _server = fixture.Server;

    [Fact]
    public async Task An_idle_stream_gets_keep_alive_comments_within_the_interval()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/conversations/{id}/events");
        using var response = await ada.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        Assert.StartsWith("retry:", await reader.ReadLineAsync(timeout.Token));
        var started = DateTime.UtcNow;
        var gaps = new List<TimeSpan>();
        var last = started;
        while (gaps.Count < 3)
        {
            var line = await reader.ReadLineAsync(timeout.Token);
            if (line != ": keep-alive") continue;
            gaps.Add(DateTime.UtcNow - last);
            last = DateTime.UtcNow;
        }
        // Configured at 400 ms; allow for scheduling on a busy 2-core machine.
        Assert.All(gaps, g => Assert.True(g < TimeSpan.FromSeconds(2), $"a heartbeat came {g.TotalMilliseconds} ms after the previous"));
    }

    /// <summary>A reconnect storm needs more than Kestrel's default 512 waiting connections (README: Server:ListenBacklog).</summary>
    [Fact]
    public void Kestrel_listens_with_the_configured_backlog() =>
        Assert.Equal(3000, _server.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SocketTransportOptions>>().Value.Backlog);

    [Fact]
    public async Task A_watcher_that_stops_reading_is_cut_off_without_holding_up_the_others()
    {
        using var ada = await _server.SignInAsync("Ada");
        var id = await ada.CreateConversationAsync();
        var metrics = _server.Services.GetRequiredService<FeedMetrics>();
        var hub = _server.Services.GetRequiredService<FeedHub>();
        var cutOffBefore = metrics.WatchersCutOff;

        using var slow = await OpenStalledWatcherAsync(id, ada.Token);
        await using var fast = await ada.WatchAsync(id, lastEventId: 0);
        await Infrastructure.Eventually.Until(() => Task.FromResult(hub.Find(FeedSource.Conversation(id))?.WatcherCount), n => n == 2, TimeSpan.FromSeconds(10), "both watchers attach");

        // Large prompts fill the stalled connection's socket, then its queue of 256 frames (each
        // exchange is four events); the reading watcher's queue never holds more than a burst.
        // The reading watcher reads along while the prompts go in, as a client does (a watcher
        // that read nothing until the last post could itself fall 256 frames behind on a busy machine).
        var big = new string('x', 30_000);
        var posting = Task.Run(async () =>
        {
            var ids = new List<string>();
            for (var i = 0; i < 80; i++)
                ids.Add((await ada.PostAcceptedAsync(id, $"{i} {big}")).GetProperty("assistantMessageId").GetString()!);
            return ids;
        });
        var completions = 0;
        await fast.ReadUntilAsync(e => e.Type == "message.completed" && ++completions == 80, TimeSpan.FromSeconds(30));
        var replies = await posting;
        Assert.Equal(replies.Order(), fast.Events.Where(e => e.Type == "message.completed").Select(e => e.MessageId!).Order());
        Assert.Equal(Enumerable.Range(1, fast.Events.Count).Select(i => (long?)i), fast.Events.Select(e => e.Id));

        // The stalled watcher was disconnected: reading what reached its socket ends at the cut.
        Assert.True(await ReadsToDisconnectAsync(slow, TimeSpan.FromSeconds(20)), "the stalled watcher should have been disconnected");
        await Infrastructure.Eventually.Until(() => Task.FromResult(hub.Find(FeedSource.Conversation(id))?.WatcherCount), n => n == 1, TimeSpan.FromSeconds(30), "only the fast watcher remains");
        Assert.Equal(cutOffBefore + 1, metrics.WatchersCutOff);
    }

    /// <summary>A raw connection with a tiny receive buffer that sends its request and then reads nothing.</summary>
    private async Task<Socket> OpenStalledWatcherAsync(string conversationId, string token)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _server.BaseAddress.Port));
        var request = $"POST /api/conversations/{conversationId}/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nLast-Event-ID: 0\r\nContent-Length: 0\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        return socket;
    }

    private static async Task<bool> ReadsToDisconnectAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0) { }
            return true;
        }
        catch (SocketException)
        {
            return true; // reset by the server
        }
        catch (OperationCanceledException)
        {
            return false; // still connected and being fed
        }
    }
}
