using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

public sealed class PoscudaV1Tests
{
    [Fact]
    public void DeriveClassPatch_SameInputs_Deterministic()
    {
        var parameters = new ProtectionParameters(taps: 2040, patchLength: 10, window: 10);

        ClassPatch first = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "7", parameters);
        ClassPatch second = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "7", parameters);

        Assert.Equal(first.Taps, second.Taps);
        Assert.Equal(2040, first.Taps.Length);
        Assert.Equal(0, first.Position); // W - p + 1 = 1 slot.
    }

    [Fact]
    public void DeriveClassPatch_Taps_WithinZeroAndBlur()
    {
        var parameters = new ProtectionParameters(taps: 500, blur: 0.25);

        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretB, "yes", parameters);

        Assert.All(patch.Taps, tap => Assert.InRange(tap, 0f, 0.25f));
        Assert.InRange(patch.Position, 0, parameters.Window - parameters.PatchLength);
    }

    [Fact]
    public void DeriveClassPatch_DifferentKeysOrLabels_Differ()
    {
        var parameters = new ProtectionParameters();

        ClassPatch a7 = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "7", parameters);
        ClassPatch b7 = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretB, "7", parameters);
        ClassPatch a8 = PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "8", parameters);

        Assert.NotEqual(a7.Taps, b7.Taps);
        Assert.NotEqual(a7.Taps, a8.Taps);
    }

    [Fact]
    public void DeriveClassPatch_SecretNot32Bytes_Throws()
    {
        Assert.Throws<ArgumentException>(
            () => PoscudaV1.Instance.DeriveClassPatch(new byte[31], "7", new ProtectionParameters()));
    }

    [Fact]
    public void DeriveClassPatch_LoneSurrogate_ThrowsInsteadOfReplacing()
    {
        Assert.Throws<ArgumentException>(
            () => PoscudaV1.Instance.DeriveClassPatch(SpecVectorTests.SecretA, "a\uD800", new ProtectionParameters()));
    }

    [Fact]
    public void Protect_PatchDerivedWithOtherTaps_Throws()
    {
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(
            SpecVectorTests.SecretA, "7", new ProtectionParameters(taps: 40));
        byte[] wav = SyntheticWav.Build("short16.wav");

        ArgumentException e = Assert.Throws<ArgumentException>(
            () => PoscudaV1.Instance.Protect(wav, patch, new ProtectionParameters(), "x.wav"));

        Assert.Equal("patch", e.ParamName);
        Assert.Equal(SyntheticWav.Build("short16.wav"), wav);
    }

    [Theory]
    [InlineData(10_000, 1159, PatchMode.Positional, 1159, 240)]
    [InlineData(1_300, 1159, PatchMode.Positional, 1060, 240)] // clamped to N - p
    [InlineData(240, 1159, PatchMode.Positional, 0, 240)]      // N == p
    [InlineData(100, 1159, PatchMode.Positional, 0, 100)]      // N < p
    [InlineData(0, 1159, PatchMode.Positional, 0, 0)]
    [InlineData(10_000, 1159, PatchMode.Whole, 0, 10_000)]
    [InlineData(0, 1159, PatchMode.Whole, 0, 0)]
    public void PatchRange_FrameCounts_FollowSpec(long frames, long position, PatchMode mode, long start, long length)
    {
        var parameters = new ProtectionParameters(mode: mode);

        Assert.Equal((start, length), PoscudaV1.PatchRange(frames, position, parameters));
    }
}
