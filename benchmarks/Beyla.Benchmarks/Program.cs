using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Beyla.Benchmarks.DecodePipelineBenchmarks).Assembly).Run(args);
