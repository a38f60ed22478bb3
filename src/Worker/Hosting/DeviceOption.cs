using System.CommandLine;
using PosCuda.Gpu;

namespace PosCuda.Worker.Hosting;

/// <summary>The <c>--device</c> option of <c>poscuda-worker</c> and <c>poscuda protect</c>: where the patch convolution runs.</summary>
public static class DeviceOption
{
    /// <summary>Creates the option (default <c>auto</c>: CUDA when a device is found, else the CPU SIMD engine).</summary>
    public static Option<string> Create()
    {
        var option = new Option<string>("--device")
        {
            Description = "Where the patch convolution runs: auto (CUDA when found, else cpu), cpu (SIMD), cuda (ILGPU), ilgpu-cpu (ILGPU's CPU accelerator).",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong([.. PatchEngines.DeviceNames]);
        return option;
    }
}
