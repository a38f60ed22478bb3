using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>The engine contract for the default CPU SIMD engine.</summary>
public sealed class CpuSimdPatchEngineTests : PatchEngineContractTests
{
    protected override IPatchEngine Engine => CpuSimdPatchEngine.Instance;
}
