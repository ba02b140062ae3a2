using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ChatGrains.Tests.Telemetry;

/// <summary>
/// What a host exported, through OpenTelemetry's in-memory exporters added beside its own
/// configuration. Activity sources and meters are process-wide, so spans and measurements of
/// other services running in the same test process land here too: filter by trace, and read
/// counters as at least. Metrics are collected only by <see cref="Points"/> and
/// <see cref="Instruments"/>, one collection at a time.
/// </summary>
public sealed class CapturedTelemetry
{
    public Locked<Activity> Spans { get; } = new();
    public Locked<Metric> Metrics { get; } = new();

    public void AddTo(IServiceCollection services)
    {
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans));
        // A reader that collects only when a test asks (ForceFlush), never on a timer of its own:
        // with AddInMemoryExporter's periodic reader, an export already under way when a test
        // cleared the list joined that test's flush, and the test saw only the tail of a batch.
        services.ConfigureOpenTelemetryMeterProvider(m => m.AddReader(
            new BaseExportingMetricReader(new InMemoryExporter<Metric>(Metrics)) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative }));
    }

    /// <summary>The spans of one trace, as they are now.</summary>
    public IReadOnlyList<Activity> Trace(ActivityTraceId traceId) => Spans.Snapshot().Where(s => s.TraceId == traceId).ToList();

    /// <summary>Collects every instrument now and returns the points of the one named.</summary>
    public IReadOnlyList<MetricPoint> Points(IServiceProvider services, string name)
    {
        var points = new List<MetricPoint>();
        foreach (var metric in Collect(services).Where(m => m.Name == name))
            foreach (ref readonly var point in metric.GetMetricPoints()) points.Add(point);
        return points;
    }

    /// <summary>The names of the instruments of <paramref name="meter"/> collected now.</summary>
    public IReadOnlyList<string> Instruments(IServiceProvider services, string meter) =>
        Collect(services).Where(m => m.MeterName == meter).Select(m => m.Name).Distinct().ToList();

    private readonly Lock _collecting = new();

    private Metric[] Collect(IServiceProvider services)
    {
        lock (_collecting)
        {
            Metrics.Clear();
            services.GetRequiredService<MeterProvider>().ForceFlush();
            return Metrics.Snapshot();
        }
    }
}

/// <summary>A collection the exporter adds to on its own threads while a test reads it.</summary>
public sealed class Locked<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public T[] Snapshot()
    {
        lock (_items) return [.. _items];
    }

    public int Count
    {
        get { lock (_items) return _items.Count; }
    }

    public bool IsReadOnly => false;

    public void Add(T item)
    {
        lock (_items) _items.Add(item);
    }

    public void Clear()
    {
        lock (_items) _items.Clear();
    }

    public bool Contains(T item)
    {
        lock (_items) return _items.Contains(item);
    }

    public void CopyTo(T[] array, int arrayIndex)
    {
        lock (_items) _items.CopyTo(array, arrayIndex);
    }

    public bool Remove(T item)
    {
        lock (_items) return _items.Remove(item);
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Snapshot()).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
