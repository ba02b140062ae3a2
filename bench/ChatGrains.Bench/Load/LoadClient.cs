using System.Net;
using System.Net.Sockets;

namespace ChatGrains.Bench.Load;

/// <summary>
/// The load generator's HTTP client: one connection per stream, each bound to one of several
/// loopback source addresses (127.0.0.2, .3, …) in turn, so tens of thousands of connections
/// to one server port never run out of ephemeral ports on one source address.
/// </summary>
public sealed class LoadClient : IDisposable
{
    public const int SourceAddresses = 16;
    private int _next;

    public LoadClient()
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            // A stream the bench drops must close its connection at once, not be drained for reuse.
            MaxResponseDrainSize = 0,
            ResponseDrainTimeout = TimeSpan.Zero,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = ConnectAsync,
        };
        Http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public HttpClient Http { get; }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var n = (uint)Interlocked.Increment(ref _next) % SourceAddresses;
        var source = new IPAddress(new byte[] { 127, 0, 0, (byte)(2 + n) });
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => Http.Dispose();
}
