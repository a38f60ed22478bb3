using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

public sealed class ProtectionSpecsTests
{
    [Fact]
    public void Get_PoscudaV1_ReturnsTheSingleton()
    {
        IProtectionSpec spec = ProtectionSpecs.Get("poscuda-v1");

        Assert.Same(PoscudaV1.Instance, spec);
        Assert.Same(spec, ProtectionSpecs.Get(ProtectionParameters.DefaultSpec));
        Assert.Equal("poscuda-v1", spec.Name);
    }

    [Fact]
    public void Get_PoscudaV2_ReturnsTheSingleton()
    {
        IProtectionSpec spec = ProtectionSpecs.Get("poscuda-v2");

        Assert.Same(PoscudaV2.Instance, spec);
        Assert.Equal("poscuda-v2", spec.Name);
        Assert.Equal(["poscuda-v1", "poscuda-v2"], ProtectionSpecs.Names);
    }

    [Theory]
    [InlineData("poscuda-v3")]
    [InlineData("POSCUDA-V1")]
    [InlineData("")]
    public void Get_UnknownName_ThrowsNamingKnownSpecs(string name)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ProtectionSpecs.Get(name));

        Assert.Contains("poscuda-v1, poscuda-v2", e.Message, StringComparison.Ordinal);
    }
}
