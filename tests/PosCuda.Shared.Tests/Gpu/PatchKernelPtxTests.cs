using ILGPU.Runtime.Cuda;
using PosCuda.Gpu;

namespace PosCuda.Shared.Tests.Gpu;

/// <summary>The patch kernel's PTX, generated without a GPU: nothing in it may be fused into a multiply-add by the CUDA JIT.</summary>
public sealed class PatchKernelPtxTests
{
    [Theory]
    [InlineData(8, 0)]
    [InlineData(9, 0)]
    public void GeneratePtx_Kernel_HasOnlyRoundedMultiplyAndAdd(int major, int minor)
    {
        string ptx = IlgpuPatchEngine.GeneratePtx(new CudaArchitecture(major, minor));

        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains("mul.rn.f64", ptx, StringComparison.Ordinal);
        Assert.Contains("add.rn.f64", ptx, StringComparison.Ordinal);
        Assert.Empty(PtxContraction.ContractibleInstructions(ptx));
    }

    [Fact]
    public void ContractibleInstructions_PlainOrFusedForms_AreFound()
    {
        // What ILGPU 1.5.3 emits for acc += a * b, and fused forms; the rounded forms pass.
        const string Ptx = """
            mul.f64 %fd3, %fd1, %fd2;
            add.f64 %fd4, %fd4, %fd3;
            sub.ftz.f32 %f1, %f2, %f3;
            fma.rn.f64 %fd5, %fd1, %fd2, %fd4;
            mad.rn.f32 %f4, %f1, %f2, %f3;
            mul.rn.f64 %fd6, %fd1, %fd2;
            add.rn.f64 %fd7, %fd6, %fd4;
            mul.lo.s32 %r1, %r2, %r3;
            add.s64 %rd1, %rd2, %rd3;
            """;

        Assert.Equal(
            ["mul.f64", "add.f64", "sub.ftz.f32", "fma.rn.f64", "mad.rn.f32"],
            PtxContraction.ContractibleInstructions(Ptx));
    }
}
