using Orleans;
using Orleans.Hosting;

namespace ChatGrains.Hosting;

/// <summary>
/// The conversations' event streams as silos and clients must both see them: the provider
/// (<see cref="ConversationStreams.Provider"/>) and its queue count. The silo's side (pulling
/// agents, the subscriber lists) is Silo.Hosting's <c>SiloHosting.AddConversationStreams</c>.
/// </summary>
public static class StreamHosting
{
    /// <summary>
    /// Queues the conversations' streams are spread over. Each queue is one queue grain, which
    /// takes every event published to it one call at a time, and one pulling agent. With the
    /// default 8, at 1,000 replies streaming on one node, the queue grains were the bottleneck:
    /// the stream hop alone (bench's Orleans floor) took p99 92–119 ms at 135 % CPU; with 16,
    /// p99 22–50 ms at 107–116 % (README, Benchmark). Silos and clients must agree on the count.
    /// </summary>
    public const int Queues = 16;

    /// <summary>The conversations' event streams as an API host (a cluster client) sees them.</summary>
    public static IClientBuilder AddConversationStreams(this IClientBuilder client) =>
        client.AddMemoryStreams(ConversationStreams.Provider, streams => streams.ConfigurePartitioning(Queues));
}
