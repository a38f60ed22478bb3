using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/PosCuda.Benchmarks -- --filter '*Convolution*'
BenchmarkSwitcher.FromAssembly(typeof(PosCuda.Benchmarks.ConvolutionBenchmarks).Assembly).Run(args);
