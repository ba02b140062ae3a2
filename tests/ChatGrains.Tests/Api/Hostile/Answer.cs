using System.Net.Sockets;
using System.Text;

namespace ChatGrains.Tests.Api.Hostile;

/// <summary>What came back: the status, headers, and the body (for an event stream, its first line only).</summary>
public sealed record Answer(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? MediaType => Headers.TryGetValue("Content-Type", out var type) ? type.Split(';')[0].Trim().ToLowerInvariant() : null;

    public bool IsEventStream => MediaType == "text/event-stream";

    public string Text => Encoding.UTF8.GetString(Body);

    public override string ToString() => $"{Status} {MediaType ?? "(no type)"} {(Text.Length > 300 ? Text[..300] + "…" : Text)}";
}

/// <summary>Thrown when no answer came in time: the property says a request never hangs.</summary>
public sealed class NoAnswerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Sends a probe over a real socket: through HttpClient where it can carry the request, else as
/// raw HTTP/1.1 bytes (control characters and UTF-8 in headers, chunked uploads of megabytes).
/// Every answer must begin within <see cref="Deadline"/>; an event stream is read to its first
/// line and then left (a watch stays open by design, a posted reply goes on without its client).
/// </summary>
public sealed class ProbeClient(Uri server) : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = server,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public Task<Answer> SendAsync(Probe probe, string target) =>
        probe.NeedsRawSocket ? SendRawAsync(probe, target) : SendWithHttpClientAsync(probe, target);

    private async Task<Answer> SendWithHttpClientAsync(Probe probe, string target)
    {
        using var request = new HttpRequestMessage(new HttpMethod(probe.Method), target);
        if (probe.Body is not null) request.Content = new ByteArrayContent(probe.Body);
        foreach (var header in probe.Headers)
        {
            if (header.Name == "Content-Type") request.Content?.Headers.TryAddWithoutValidation(header.Name, header.Value);
            else if (!request.Headers.TryAddWithoutValidation(header.Name, header.Value)) throw new InvalidOperationException($"HttpClient will not send {header.Name}.");
        }
        // As a careful client uploading megabytes does: the server may refuse before the body is sent.
        if (probe.Body?.Length > 64 * 1024) request.Headers.ExpectContinue = true;
        // One connection per probe: a connection the server closed after refusing the previous
        // probe (its body unread) can race a reuse and end "prematurely", which says nothing
        // about this probe. A premature end on a fresh connection is the server's fault.
        request.Headers.ConnectionClose = true;

        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var headers = response.Headers.Concat(response.Content.Headers)
                .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
            await using var body = await response.Content.ReadAsStreamAsync(deadline.Token);
            var bytes = response.Content.Headers.ContentType?.MediaType == "text/event-stream"
                ? await ReadFirstLineAsync(body, deadline.Token)
                : await ReadAllAsync(body, deadline.Token);
            return new Answer((int)response.StatusCode, headers, bytes);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested)
        {
            throw new NoAnswerException($"No complete answer within {Deadline.TotalSeconds} s.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new NoAnswerException($"The connection ended without an answer: {ex.Message}", ex);
        }
    }

    private async Task<Answer> SendRawAsync(Probe probe, string target)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, deadline.Token);
        var stream = tcp.GetStream();

        var head = new MemoryStream();
        void Line(string ascii) => head.Write(Encoding.ASCII.GetBytes(ascii + "\r\n"));
        Line($"{probe.Method} {target} HTTP/1.1");
        Line($"Host: {server.Authority}");
        Line("Connection: close");
        foreach (var header in probe.Headers)
        {
            head.Write(Encoding.ASCII.GetBytes(header.Name + ": "));
            head.Write(Encoding.UTF8.GetBytes(header.Value));
            Line("");
        }
        if (probe.Body is not null) Line(probe.ChunkedBody ? "Transfer-Encoding: chunked" : $"Content-Length: {probe.Body.Length}");
        Line("");

        // The server may answer (and close) before the whole body is sent: that is its right.
        var sending = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(head.ToArray(), deadline.Token);
                if (probe.Body is null) return;
                if (!probe.ChunkedBody) await stream.WriteAsync(probe.Body, deadline.Token);
                else
                {
                    foreach (var chunk in probe.Body.Chunk(64 * 1024))
                    {
                        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"), deadline.Token);
                        await stream.WriteAsync(chunk, deadline.Token);
                        await stream.WriteAsync("\r\n"u8.ToArray(), deadline.Token);
                    }
                    await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), deadline.Token);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        });

        try
        {
            var received = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int headEnd;
            while ((headEnd = IndexOf(received.GetBuffer().AsSpan(0, (int)received.Length), "\r\n\r\n"u8)) < 0)
            {
                var n = await stream.ReadAsync(buffer, deadline.Token);
                if (n == 0) throw new NoAnswerException($"The connection closed before a complete answer; received: {Encoding.Latin1.GetString(received.ToArray())}");
                received.Write(buffer, 0, n);
            }
            var lines = Encoding.Latin1.GetString(received.GetBuffer(), 0, headEnd).Split("\r\n");
            var status = int.Parse(lines[0].Split(' ')[1]);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                var (name, value) = (line[..colon], line[(colon + 1)..].Trim());
                headers[name] = headers.TryGetValue(name, out var earlier) ? $"{earlier}, {value}" : value;
            }
            var rest = new MemoryStream();
            rest.Write(received.GetBuffer(), headEnd + 4, (int)received.Length - headEnd - 4);
            var isStream = headers.TryGetValue("Content-Type", out var type) && type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
            // With Connection: close the answer ends when the server closes; a stream, at its first line.
            while (!(isStream && rest.ToArray().Contains((byte)'\n')))
            {
                var n = await stream.ReadAsync(buffer, deadline.Token);
                if (n == 0) break;
                rest.Write(buffer, 0, n);
            }
            var body = headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase)
                ? Dechunk(rest.ToArray())
                : rest.ToArray();
            return new Answer(status, headers, isStream ? FirstLine(body) : body);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested)
        {
            throw new NoAnswerException($"No complete answer within {Deadline.TotalSeconds} s.", ex);
        }
        catch (IOException ex)
        {
            throw new NoAnswerException($"The connection broke without an answer: {ex.Message}", ex);
        }
        finally
        {
            tcp.Close();
            await sending;
        }
    }

    private static int IndexOf(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> value) => bytes.IndexOf(value);

    /// <summary>The chunks' data, as far as they came (a stream read to its first line is cut mid-chunk).</summary>
    private static byte[] Dechunk(byte[] raw)
    {
        var data = new MemoryStream();
        var at = 0;
        while (at < raw.Length)
        {
            var lineEnd = raw.AsSpan(at).IndexOf("\r\n"u8);
            if (lineEnd < 0) break;
            var size = Convert.ToInt32(Encoding.ASCII.GetString(raw, at, lineEnd).Split(';')[0].Trim(), 16);
            at += lineEnd + 2;
            if (size == 0) break;
            var take = Math.Min(size, raw.Length - at);
            data.Write(raw, at, take);
            at += size + 2;
        }
        return data.ToArray();
    }

    private static byte[] FirstLine(byte[] body) => body.AsSpan().IndexOf((byte)'\n') is var i and >= 0 ? body[..(i + 1)] : body;

    private static async Task<byte[]> ReadFirstLineAsync(Stream body, CancellationToken cancellation)
    {
        var read = new MemoryStream();
        var buffer = new byte[1024];
        while (!read.ToArray().Contains((byte)'\n'))
        {
            var n = await body.ReadAsync(buffer, cancellation);
            if (n == 0) break;
            read.Write(buffer, 0, n);
        }
        return FirstLine(read.ToArray());
    }

    private static async Task<byte[]> ReadAllAsync(Stream body, CancellationToken cancellation)
    {
        var read = new MemoryStream();
        await body.CopyToAsync(read, cancellation);
        return read.ToArray();
    }

    public void Dispose() => _http.Dispose();
}
