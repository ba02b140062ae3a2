using ChatGrains.Bench;
using ChatGrains.Bench.Baseline;

// `ChatGrains.Bench baseline-server …` is the baseline's own process; anything else runs the benchmark.
if (args.Contains("baseline-server")) return await BaselineServer.RunAsync(args);
if (args is ["--render", var directory]) return await BenchRun.RenderAsync(directory);
return await BenchRun.RunAsync(BenchSettings.Parse(args), args);
