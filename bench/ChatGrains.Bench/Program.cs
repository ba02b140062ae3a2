using ChatGrains.Bench;
using ChatGrains.Bench.Baseline;
using ChatGrains.Bench.Floor;

// `ChatGrains.Bench baseline-server …` and `… stream-floor …` are child processes of a run;
// `… fake-model …` is the OpenAI-compatible model server the replies-openai scenario calls;
// `… store-commits …` measures the embedded store's commits alone; `… perf-parts …` reads a
// profile (see bench/profile); anything else runs the benchmark.
if (args.Contains("baseline-server")) return await BaselineServer.RunAsync(args);
if (args.Contains("stream-floor")) return await StreamFloor.RunAsync(args);
if (args.Contains("fake-model")) return await ChatGrains.Bench.Model.FakeModelServer.RunAsync(args);
if (args.Contains("store-commits")) return await StoreCommits.RunAsync(args);
if (args.Contains("long-conversation")) return await ChatGrains.Bench.Probes.LongConversationProbe.RunAsync(args);
if (args.Contains("perf-parts")) return await ChatGrains.Bench.Profile.PerfParts.RunAsync(args);
if (args is ["--render", var directory]) return await BenchRun.RenderAsync(directory);
return await BenchRun.RunAsync(BenchSettings.Parse(args), args);
