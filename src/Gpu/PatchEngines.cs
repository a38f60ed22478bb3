using System.Runtime.InteropServices;
using PosCuda.Shared.Protection;

namespace PosCuda.Gpu;

/// <summary>Creates the patch engine a <c>--device</c> value asks for.</summary>
public static class PatchEngines
{
    /// <summary>The <c>--device</c> values, in the order help lists them.</summary>
    public static IReadOnlyList<string> DeviceNames { get; } = ["auto", "cpu", "cuda", "ilgpu-cpu"];

    /// <summary>Parses a <c>--device</c> value.</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="DeviceNames"/>.</exception>
    public static PatchDevice Parse(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device switch
        {
            "auto" => PatchDevice.Auto,
            "cpu" => PatchDevice.Cpu,
            "cuda" => PatchDevice.Cuda,
            "ilgpu-cpu" => PatchDevice.IlgpuCpu,
            _ => throw new ArgumentException($"Unknown device '{device}'; use one of {string.Join(", ", DeviceNames)}.", nameof(device)),
        };
    }

    /// <summary>Creates the engine for <paramref name="device"/>; dispose it (a no-op for the CPU engine) when done.</summary>
    /// <exception cref="InvalidOperationException"><see cref="PatchDevice.Cuda"/> and no CUDA device was found.</exception>
    public static IPatchEngine Create(PatchDevice device) => device switch
    {
        PatchDevice.Cpu => CpuSimdPatchEngine.Instance,
        PatchDevice.Cuda => IlgpuPatchEngine.CreateCuda(),
        PatchDevice.IlgpuCpu => IlgpuPatchEngine.CreateCpu(),
        PatchDevice.Auto => CudaDriverPresent() && IlgpuPatchEngine.CudaAvailable() ? IlgpuPatchEngine.CreateCuda() : CpuSimdPatchEngine.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, null),
    };

    /// <summary>True when <paramref name="engine"/> runs on a GPU (its worker joins with the <c>gpu</c> role).</summary>
    public static bool IsGpu(IPatchEngine engine) => engine is IlgpuPatchEngine { IsGpu: true };

    /// <summary>True when the CUDA driver library loads: a cheap test before ILGPU looks for devices (machines without it skip ILGPU).</summary>
    public static bool CudaDriverPresent()
    {
        string library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(library, out IntPtr handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }
}
