using System.Text.Json;
using ChatGrains.Bench.Load;
using ChatGrains.Bench.Measure;
using ChatGrains.Bench.Report;
using ChatGrains.Bench.Targets;
using ChatGrains.Silo;
using HdrHistogram;
using Orleans.Streams;

namespace ChatGrains.Bench.Floor;

/// <summary>
/// The Orleans floor: what the grain timer and the stream hop alone cost at the replies
/// scenario's rate, with nothing of ChatGrains' own — no generator, no store, no feed, no HTTP.
/// One silo configured with ChatGrains' own stream settings (<see cref="SiloHosting.AddConversationStreams"/>),
/// N grains that each publish one event of the deltas' size per interval from a grain timer (as
/// a conversation's flush does), and one subscription per stream in the same process (as the
/// co-hosted API host has). Runs as its own process: <c>ChatGrains.Bench stream-floor …</c>;
/// its last line of output is the result as JSON.
/// </summary>
public static class StreamFloor
{
    public const string ResultPrefix = "FLOOR ";

    public static async Task<int> RunAsync(string[] args)
    {
        var streams = (int)ChildArgs.Long(args, "--streams", 1000);
        var interval = TimeSpan.FromMilliseconds(ChildArgs.Long(args, "--interval-ms", 50));
        var payload = (int)ChildArgs.Long(args, "--payload", 190);
        var warmup = TimeSpan.FromSeconds(ChildArgs.Long(args, "--warmup-s", 5));
        var window = TimeSpan.FromSeconds(ChildArgs.Long(args, "--window-s", 15));

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo => silo.UseLocalhostClustering(Target.FreePort(), Target.FreePort()).AddConversationStreams());
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IClusterClient>();

        var recording = new FloorRecording(streams);
        var provider = client.GetStreamProvider(ConversationStreams.Provider);
        for (var i = 0; i < streams; i++)
        {
            var stream = i;
            await provider.GetStream<ConversationEvent>(ConversationStreams.For(FloorPublisher.StreamOf(i)))
                .SubscribeAsync((e, _) =>
                {
                    recording.Received(stream, e);
                    return Task.CompletedTask;
                });
        }
        await Parallel.ForEachAsync(Enumerable.Range(0, streams), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, _) => await client.GetGrain<IFloorPublisher>(i).StartAsync(interval, payload));

        await Task.Delay(warmup);
        var before = CpuReading.Take(Environment.ProcessId);
        recording.Open();
        await Task.Delay(window);
        var events = recording.Close();
        var after = CpuReading.Take(Environment.ProcessId);
        await Parallel.ForEachAsync(Enumerable.Range(0, streams), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, _) => await client.GetGrain<IFloorPublisher>(i).StopAsync());

        var result = new StreamFloorResult(streams, interval.TotalMilliseconds, payload, events / (after.At - before.At).TotalSeconds,
            Latency.From(recording.Latency), CpuReading.Alone(before, after), recording.Violations);
        Console.WriteLine(ResultPrefix + JsonSerializer.Serialize(result, Json));
        await host.StopAsync();
        return 0;
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Latency of every event received in the window, and a check that each stream's ids arrive one by one.</summary>
    private sealed class FloorRecording(int streams)
    {
        private readonly Recording _recording = new();
        private readonly long[] _last = new long[streams];
        private long _events;

        public LongConcurrentHistogram Latency => _recording.Latency;

        public long Violations => _recording.ViolationCount;

        public void Open() => _recording.Open();

        public long Close()
        {
            _recording.Close();
            return Interlocked.Read(ref _events);
        }

        public void Received(int stream, ConversationEvent e)
        {
            // Stream callbacks for one subscription never overlap.
            if (e.Id != _last[stream] + 1) _recording.Violation($"stream {stream}: {e.Id} after {_last[stream]}");
            _last[stream] = e.Id;
            if (!_recording.IsOpen) return;
            Interlocked.Increment(ref _events);
            _recording.RecordLatency(DateTime.UtcNow.Ticks - e.CreatedAtTicks);
        }
    }
}

public interface IFloorPublisher : IGrainWithIntegerKey
{
    Task StartAsync(TimeSpan interval, int payloadBytes);

    Task StopAsync();
}

/// <summary>Publishes one event per interval on its stream, stamped with its creation time, from a grain timer.</summary>
public sealed class FloorPublisher : Grain, IFloorPublisher
{
    private IAsyncStream<ConversationEvent>? _stream;
    private IGrainTimer? _timer;
    private string _data = "";
    private long _id;

    public static string StreamOf(long key) => $"floor-{key}";

    public Task StartAsync(TimeSpan interval, int payloadBytes)
    {
        _stream = this.GetStreamProvider(ConversationStreams.Provider).GetStream<ConversationEvent>(ConversationStreams.For(StreamOf(this.GetPrimaryKeyLong())));
        _data = new string('x', payloadBytes);
        _timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task StopAsync()
    {
        _timer?.Dispose();
        _timer = null;
        return Task.CompletedTask;
    }

    private Task TickAsync(CancellationToken cancellationToken) =>
        _stream!.OnNextAsync(new ConversationEvent(++_id, EventTypes.MessageDelta, _data, DateTime.UtcNow.Ticks));
}

/// <summary>The floor at one rate: events received per second, their latency, and the process's CPU.</summary>
public sealed record StreamFloorResult(
    int Streams, double IntervalMs, int PayloadBytes, double EventsPerSecond, Latency Latency, CpuUse Cpu, long Violations);
