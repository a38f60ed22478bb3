namespace PosCuda.Gpu;

/// <summary>Where the patch convolution runs, as <c>--device</c> names it.</summary>
public enum PatchDevice
{
    /// <summary><c>auto</c>: CUDA when ILGPU finds a device, else the CPU SIMD engine.</summary>
    Auto,

    /// <summary><c>cpu</c>: the CPU SIMD engine (the default everywhere without a GPU).</summary>
    Cpu,

    /// <summary><c>cuda</c>: ILGPU on the first CUDA device; an error when there is none.</summary>
    Cuda,

    /// <summary><c>ilgpu-cpu</c>: the ILGPU kernel on ILGPU's CPU accelerator (tests and benchmarks without a GPU).</summary>
    IlgpuCpu,
}
