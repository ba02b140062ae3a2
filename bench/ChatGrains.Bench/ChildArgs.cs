using System.Globalization;

namespace ChatGrains.Bench;

/// <summary>The <c>--name=value</c> arguments a run passes to its child processes (the baseline, the Orleans floor).</summary>
public static class ChildArgs
{
    public static long Long(string[] args, string name, long fallback) =>
        args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal)) is { } a
            ? long.Parse(a[(name.Length + 1)..], CultureInfo.InvariantCulture)
            : fallback;
}
