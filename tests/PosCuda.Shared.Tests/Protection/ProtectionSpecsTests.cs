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

    [Theory]
    [InlineData("poscuda-v2")]
    [InlineData("POSCUDA-V1")]
    [InlineData("")]
    public void Get_UnknownName_ThrowsNamingKnownSpecs(string name)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ProtectionSpecs.Get(name));

        Assert.Contains("poscuda-v1", e.Message, StringComparison.Ordinal);
        Assert.Equal(["poscuda-v1"], ProtectionSpecs.Names);
    }
}
