using System.Net.ServerSentEvents;
using System.Text.Json;

namespace ChatGrains.Tests.Api;

/// <summary>An event received over the wire, as any SSE client would see it.</summary>
public sealed record Received(long? Id, string Type, JsonElement Data)
{
    public string? MessageId => Data.TryGetProperty("messageId", out var id) ? id.GetString() : Data.TryGetProperty("message", out var m) ? m.GetProperty("id").GetString() : null;
    public string? Delta => Type == "message.delta" ? Data.GetProperty("delta").GetString() : null;
    public string? Status => Data.TryGetProperty("status", out var s) ? s.GetString() : Data.TryGetProperty("message", out var m) ? m.GetProperty("status").GetString() : null;
    public override string ToString() => $"{Id}:{Type}:{Data}";
}

/// <summary>
/// Reads an event stream response with the real SSE parser of System.Net.ServerSentEvents.
/// <see cref="Events"/> holds the conversation's events (and <c>reset</c>); the ephemeral
/// <c>presence</c> and <c>typing</c> go to <see cref="Ephemeral"/>, and <see cref="NextAsync"/>
/// returns them only from a reader opened with <c>ephemeral: true</c>.
/// </summary>
public sealed class EventStreamReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _timeout = new();
    private readonly IAsyncEnumerator<SseItem<string>> _items;
    private readonly bool _returnsEphemeral;

    private EventStreamReader(HttpResponseMessage response, Stream body, bool returnsEphemeral)
    {
        _returnsEphemeral = returnsEphemeral;
        Response = response;
        Parser = SseParser.Create(body);
        _items = Parser.EnumerateAsync(_timeout.Token).GetAsyncEnumerator(_timeout.Token);
    }

    public HttpResponseMessage Response { get; }
    public SseParser<string> Parser { get; }
    public List<Received> Events { get; } = [];
    public List<Received> Ephemeral { get; } = [];
    public bool Ended { get; private set; }

    public static async Task<EventStreamReader> OpenAsync(HttpClient client, HttpRequestMessage request, bool ephemeral = false)
    {
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new InvalidOperationException($"Expected an event stream, got {(int)response.StatusCode}: {body}");
        }
        return new EventStreamReader(response, await response.Content.ReadAsStreamAsync(), ephemeral);
    }

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<Received?> NextAsync(TimeSpan? timeout = null)
    {
        if (Ended) return null;
        _timeout.CancelAfter(timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            try
            {
                if (!await _items.MoveNextAsync())
                {
                    Ended = true;
                    return null;
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No event within {timeout ?? TimeSpan.FromSeconds(20)}; received so far: {Events.Count}.");
            }
            var item = _items.Current;
            var e = new Received(item.EventId is { } id ? long.Parse(id) : null, item.EventType, JsonDocument.Parse(item.Data).RootElement.Clone());
            if (e.Type is "presence" or "typing")
            {
                Ephemeral.Add(e);
                if (!_returnsEphemeral) continue;
            }
            else
            {
                Events.Add(e);
            }
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            return e;
        }
    }

    /// <summary>Reads until an event matches (inclusive); fails if the stream ends first.</summary>
    public async Task<Received> ReadUntilAsync(Func<Received, bool> match, TimeSpan? timeout = null)
    {
        while (await NextAsync(timeout) is { } e)
        {
            if (match(e)) return e;
        }
        throw new InvalidOperationException($"The stream ended before the expected event; received: {string.Join(", ", Events.Take(20))}");
    }

    /// <summary>Reads until the server ends the stream.</summary>
    public async Task<List<Received>> ReadToEndAsync(TimeSpan? timeout = null)
    {
        while (await NextAsync(timeout) is not null) { }
        return Events;
    }

    public async ValueTask DisposeAsync()
    {
        _timeout.Cancel();
        Response.Dispose();
        try { await _items.DisposeAsync(); } catch (Exception) { /* the connection is gone, as intended */ }
    }
}
