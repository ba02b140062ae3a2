using ScottPlot;

namespace ChatGrains.Bench.Report;

/// <summary>The PNG charts of a run: latency and throughput against watchers, and ChatGrains against the baseline.</summary>
public static class Charts
{
    private static readonly Color ChatGrainsColor = Colors.SteelBlue;
    private static readonly Color BaselineColor = Colors.DarkOrange;

    public static IReadOnlyList<string> Write(BenchResults results, string directory)
    {
        var sweep = results.FanOut.Where(f => f.Label == "sweep").ToList();
        if (sweep.Count == 0) return [];
        return [LatencyVsWatchers(sweep, directory), ThroughputVsWatchers(sweep, directory), ChatGrainsVsBaseline(results, directory)];
    }

    private static string LatencyVsWatchers(List<FanOutResult> sweep, string directory)
    {
        var plot = new Plot();
        foreach (var (target, color) in new[] { ("ChatGrains", ChatGrainsColor), ("Baseline", BaselineColor) })
        {
            var points = sweep.Where(f => f.Target == target && f.Latency.Samples > 0).OrderBy(f => f.Watchers).ToList();
            if (points.Count == 0) continue;
            var xs = points.Select(p => (double)p.Watchers).ToArray();
            var p99 = plot.Add.Scatter(xs, points.Select(p => Math.Log10(p.Latency.P99)).ToArray());
            p99.LegendText = $"{target} p99";
            p99.Color = color;
            p99.LineWidth = 2;
            p99.MarkerSize = 8;
            var p50 = plot.Add.Scatter(xs, points.Select(p => Math.Log10(p.Latency.P50)).ToArray());
            p50.LegendText = $"{target} p50";
            p50.Color = color;
            p50.LinePattern = LinePattern.Dashed;
            p50.MarkerSize = 6;
        }
        LogY(plot);
        plot.Add.HorizontalLine(Math.Log10(50), 1, Colors.Gray, LinePattern.Dotted).LegendText = "50 ms target";
        plot.Title($"Event creation → received latency vs watchers ({sweep[0].Conversations} conversations replying)");
        plot.XLabel("watchers on one host (total)");
        plot.YLabel("latency (ms, log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        return Save(plot, directory, "latency-vs-watchers.png");
    }

    private static string ThroughputVsWatchers(List<FanOutResult> sweep, string directory)
    {
        var plot = new Plot();
        foreach (var (target, color) in new[] { ("ChatGrains", ChatGrainsColor), ("Baseline", BaselineColor) })
        {
            var points = sweep.Where(f => f.Target == target).OrderBy(f => f.Watchers).ToList();
            if (points.Count == 0) continue;
            var s = plot.Add.Scatter(points.Select(p => (double)p.Watchers).ToArray(), points.Select(p => p.DeliveredPerSecond / 1000).ToArray());
            s.LegendText = target;
            s.Color = color;
            s.LineWidth = 2;
            s.MarkerSize = 8;
        }
        plot.Add.HorizontalLine(100, 1, Colors.Gray, LinePattern.Dotted).LegendText = "100k events/s target";
        plot.Title("Delivered events per second vs watchers");
        plot.XLabel("watchers on one host (total)");
        plot.YLabel("thousand events / s");
        plot.ShowLegend(Alignment.UpperLeft);
        return Save(plot, directory, "throughput-vs-watchers.png");
    }

    private static string ChatGrainsVsBaseline(BenchResults results, string directory)
    {
        var plot = new Plot();
        var labels = new List<string>();
        var throughput = new List<Bar>();
        var latency = new List<Bar>();
        foreach (var (cg, bl) in Comparison.Pairs(results))
        {
            var x = labels.Count * 3;
            labels.Add($"{cg.Conversations}×{cg.WatchersPerConversation}");
            // Log scale: a bar going down is ChatGrains below the baseline, up is above it.
            throughput.Add(new Bar { Position = x, Value = Math.Log10(cg.DeliveredPerSecond / bl.DeliveredPerSecond), FillColor = ChatGrainsColor });
            latency.Add(new Bar { Position = x + 1, Value = Math.Log10(cg.Latency.P99 / bl.Latency.P99), FillColor = BaselineColor });
        }
        var t = plot.Add.Bars(throughput);
        t.LegendText = "throughput, ChatGrains / baseline";
        var l = plot.Add.Bars(latency);
        l.LegendText = "p99 latency, ChatGrains / baseline";
        plot.Add.HorizontalLine(0, 1, Colors.Gray, LinePattern.Dotted);
        plot.Axes.Bottom.SetTicks(labels.Select((_, i) => i * 3 + 0.5).ToArray(), labels.ToArray());
        LogY(plot);
        plot.Title("ChatGrains vs bare Kestrel, same client and load");
        plot.XLabel("conversations × watchers per conversation");
        plot.YLabel("ratio, log scale (1 = same as the baseline)");
        plot.ShowLegend(Alignment.UpperLeft);
        return Save(plot, directory, "chatgrains-vs-baseline.png");
    }

    private static void LogY(Plot plot) =>
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"{Math.Pow(10, y):0.###}",
        };

    private static string Save(Plot plot, string directory, string name)
    {
        var path = Path.Combine(directory, name);
        plot.SavePng(path, 1000, 600);
        return path;
    }
}
