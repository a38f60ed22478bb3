using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/PosCuda.Benchmarks -- --filter '*Convolution*'
// dotnet run -c Release --project bench/PosCuda.Benchmarks -- s3-floor ENDPOINT BUCKET SRC_PREFIX DST_PREFIX CONCURRENCY
if (args.Length > 0 && args[0] == "s3-floor")
{
    return await PosCuda.Benchmarks.S3Floor.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(PosCuda.Benchmarks.ConvolutionBenchmarks).Assembly).Run(args);
return 0;
