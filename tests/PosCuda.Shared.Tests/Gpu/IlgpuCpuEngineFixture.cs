using PosCuda.Gpu;

namespace PosCuda.Shared.Tests.Gpu;

/// <summary>One ILGPU engine on ILGPU's CPU accelerator for a test class, with small tiles so that long patches span many launches.</summary>
public sealed class IlgpuCpuEngineFixture : IDisposable
{
    /// <summary>The tile: 8192 outputs per launch.</summary>
    public const int TileOutputs = 8192;

    public IlgpuPatchEngine Engine { get; } = IlgpuPatchEngine.CreateCpu(TileOutputs);

    public void Dispose() => Engine.Dispose();
}
