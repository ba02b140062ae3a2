using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ChatGrains.Bench;

/// <summary>
/// The servers and helper processes a run starts. If the run is stopped (Ctrl-C, SIGTERM, or
/// exits without disposing them), they are killed with it, so that a left-over server does not
/// take CPU from the next run.
/// </summary>
public static class ChildProcesses
{
    private static readonly ConcurrentDictionary<Process, byte> Running = new();
    private static readonly Lazy<PosixSignalRegistration[]> Handlers = new(() =>
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        return [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT }.Select(s => PosixSignalRegistration.Create(s, _ => KillAll()))];
    });

    /// <summary>Starts the process and keeps it on the list until it exits.</summary>
    public static Process Start(ProcessStartInfo info)
    {
        _ = Handlers.Value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}");
        Running[process] = 0;
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => Running.TryRemove(process, out _);
        if (process.HasExited) Running.TryRemove(process, out _);
        return process;
    }

    private static void KillAll()
    {
        foreach (var process in Running.Keys)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // already gone
        }
    }
}
