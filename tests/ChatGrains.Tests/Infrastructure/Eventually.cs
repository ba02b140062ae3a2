namespace ChatGrains.Tests.Infrastructure;

/// <summary>Waits for a condition that the system reaches asynchronously, failing with a message at a deadline.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await probe();
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout} waiting until {what}; last seen: {Describe(value)}.");
            await Task.Delay(25);
        }
    }

    private static string Describe<T>(T value) =>
        value is System.Collections.IEnumerable items and not string
            ? "[" + string.Join(", ", items.Cast<object?>()) + "]"
            : value?.ToString() ?? "null";
}
