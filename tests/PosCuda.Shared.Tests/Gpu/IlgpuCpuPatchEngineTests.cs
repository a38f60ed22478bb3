using PosCuda.Shared.Protection;
using PosCuda.Shared.Tests.Protection;

namespace PosCuda.Shared.Tests.Gpu;

/// <summary>The engine contract for the ILGPU engine on ILGPU's CPU accelerator (the same kernel a CUDA device runs).</summary>
public sealed class IlgpuCpuPatchEngineTests : PatchEngineContractTests, IClassFixture<IlgpuCpuEngineFixture>
{
    private readonly IlgpuCpuEngineFixture _fixture;

    public IlgpuCpuPatchEngineTests(IlgpuCpuEngineFixture fixture)
    {
        _fixture = fixture;
    }

    protected override IPatchEngine Engine => _fixture.Engine;

    [Fact]
    public void Engine_OnTheCpuAccelerator_PrefersBatchesAndIsNoGpu()
    {
        Assert.True(_fixture.Engine.PrefersBatches);
        Assert.False(_fixture.Engine.IsGpu);
        Assert.Equal("ilgpu-cpu", _fixture.Engine.Name);
    }
}
