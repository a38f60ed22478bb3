// bench/gpu.sh runs this: gpu-bench [SECONDS per measurement]
return PosCuda.Benchmarks.GpuBench.Run(args);
