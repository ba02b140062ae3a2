using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace ChatGrains.Bench.Measure;

/// <summary>
/// Makes another .NET process run a full, blocking garbage collection, from outside, the way
/// dotnet-gcdump does (an EventPipe session asking for the GCHeapCollect keyword). The server
/// then reports a managed heap that holds only what is alive, so "memory per watcher" is not
/// blurred by garbage left over from connecting. No endpoint of the server can force a GC.
/// </summary>
public static class GcTrigger
{
    private const long GcHeapCollectKeyword = 0x800000;

    public static async Task CollectAsync(int pid)
    {
        var client = new DiagnosticsClient(pid);
        using var session = client.StartEventPipeSession(
            new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcHeapCollectKeyword),
            requestRundown: false, circularBufferMB: 16);
        var drain = session.EventStream.CopyToAsync(Stream.Null);
        await Task.Delay(TimeSpan.FromSeconds(1));
        await session.StopAsync(CancellationToken.None);
        await drain;
    }
}
