using System.Runtime.InteropServices;

namespace ChatGrains.Bench.Measure;

/// <summary>What the numbers were measured on.</summary>
public sealed record Machine(int Cores, string Cpu, long MemoryBytes, string Os, string Runtime, int OpenFilesLimit)
{
    public static Machine Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var memKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var files = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal))
            ?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3] ?? "0";
        return new Machine(Environment.ProcessorCount, cpu, long.Parse(memKb) * 1024, RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription, int.TryParse(files, out var f) ? f : 0);
    }

    public override string ToString() =>
        $"{Cores} cores ({Cpu}), {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {Os}, {Runtime}, open files limit {OpenFilesLimit}";
}
