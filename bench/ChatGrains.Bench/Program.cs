using ChatGrains.Bench;
using ChatGrains.Bench.Baseline;

// `ChatGrains.Bench baseline-server …` is the baseline's own process; anything else runs the benchmark.
if (args.Contains("baseline-server")) return await BaselineServer.RunAsync(args);
return await BenchRun.RunAsync(BenchSettings.Parse(args), args);
