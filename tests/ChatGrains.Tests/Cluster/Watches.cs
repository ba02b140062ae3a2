using ChatGrains.Tests.Api;

namespace ChatGrains.Tests.Cluster;

/// <summary>What the cluster tests read from watch streams: the events as a watcher saw them, and their ids.</summary>
public static class Watches
{
    public static async Task ReadDeltasAsync(EventStreamReader watch, int count)
    {
        var seen = 0;
        await watch.ReadUntilAsync(e => e.Type == "message.delta" && ++seen == count, TimeSpan.FromSeconds(30));
    }

    /// <summary>Every event exactly as received, for comparing what two watchers saw.</summary>
    public static List<string> Raw(EventStreamReader watch) => watch.Events.Select(e => $"{e.Id}|{e.Type}|{e.Data.GetRawText()}").ToList();

    public static void AssertConsecutive(EventStreamReader watch, long from) =>
        Assert.Equal(Enumerable.Range((int)from + 1, watch.Events.Count).Select(i => (long?)i), watch.Events.Select(e => e.Id));
}
