using System.Globalization;

namespace ChatGrains.Bench.Measure;

/// <summary>CPU time and resident memory of a process, and busy time of the whole machine, from /proc.</summary>
public static class ProcessStats
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>User + system CPU seconds the process has used so far ("self" for this one).</summary>
    public static double CpuSeconds(string pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name, which is in parentheses and may contain spaces.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public static long RssBytes(string pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    /// <summary>
    /// CPU seconds every process on the machine has used (all cores), and the seconds the
    /// hypervisor gave the machine's virtual cores to someone else (steal), from /proc/stat.
    /// </summary>
    public static (double Busy, double Stolen) MachineSeconds()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal
        long busy = 0;
        foreach (var i in new[] { 1, 2, 3, 6, 7 }) busy += long.Parse(cpu[i], CultureInfo.InvariantCulture);
        return (busy / TicksPerSecond, long.Parse(cpu[8], CultureInfo.InvariantCulture) / TicksPerSecond);
    }
}

/// <summary>A reading of the CPU clocks, to turn two of them into percentages of a core.</summary>
public readonly record struct CpuReading(DateTime At, double Server, double Client, double Machine, double Stolen)
{
    public static CpuReading Take(int serverPid)
    {
        var (busy, stolen) = ProcessStats.MachineSeconds();
        return new(DateTime.UtcNow, ProcessStats.CpuSeconds(serverPid.ToString(CultureInfo.InvariantCulture)), ProcessStats.CpuSeconds("self"), busy, stolen);
    }

    /// <summary>CPU use between two readings, in % of one core (200 % is the whole 2-core machine).</summary>
    public static CpuUse Between(CpuReading a, CpuReading b)
    {
        var seconds = (b.At - a.At).TotalSeconds;
        var server = 100 * (b.Server - a.Server) / seconds;
        var client = 100 * (b.Client - a.Client) / seconds;
        var machine = 100 * (b.Machine - a.Machine) / seconds;
        var stolen = 100 * (b.Stolen - a.Stolen) / seconds;
        return new CpuUse(server, client, Math.Max(0, machine - server - client), stolen);
    }

    /// <summary>As <see cref="Between"/>, for a process that is its own load (the Orleans floor): no client.</summary>
    public static CpuUse Alone(CpuReading a, CpuReading b)
    {
        var use = Between(a, b);
        var machine = 100 * (b.Machine - a.Machine) / (b.At - a.At).TotalSeconds;
        return new CpuUse(use.Server, 0, Math.Max(0, machine - use.Server), use.Stolen);
    }
}

/// <summary>
/// % of one core: the server under test, the load generator, everything else on the machine,
/// and what the hypervisor took from the machine's cores meanwhile (steal: time a core was
/// ready to run and was not given to it). Steal makes every number of a window worse at once;
/// a window with much of it measured the host, not the code.
/// </summary>
public readonly record struct CpuUse(double Server, double Client, double Other, double Stolen = 0);
