using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

public sealed class ProtectionParametersTests
{
    [Fact]
    public void Constructor_Defaults_MatchDesign()
    {
        var parameters = new ProtectionParameters();

        Assert.Equal(80, parameters.Taps);
        Assert.Equal(240, parameters.PatchLength);
        Assert.Equal(0.01, parameters.Blur);
        Assert.Equal(4000, parameters.Window);
        Assert.Equal(PatchMode.Positional, parameters.Mode);
        Assert.Equal("poscuda-v1", parameters.Spec);
    }

    [Theory]
    [InlineData(1, 1, 1e-300, 1)]
    [InlineData(2040, 240, 0.01, 240)]
    [InlineData(80, 4000, 5.0, 4000)]
    public void Constructor_ValuesAtTheBounds_Accepted(int taps, int patchLength, double blur, int window)
    {
        var parameters = new ProtectionParameters(taps, patchLength, blur, window);

        Assert.Equal(taps, parameters.Taps);
        Assert.Equal(window, parameters.Window);
    }

    [Theory]
    [InlineData(0, 240, 0.01, 4000, "taps")]
    [InlineData(2041, 240, 0.01, 4000, "taps")]
    [InlineData(80, 0, 0.01, 4000, "patchLength")]
    [InlineData(80, 240, 0.0, 4000, "blur")]
    [InlineData(80, 240, -0.01, 4000, "blur")]
    [InlineData(80, 240, double.NaN, 4000, "blur")]
    [InlineData(80, 240, double.PositiveInfinity, 4000, "blur")]
    [InlineData(80, 240, 0.01, 239, "window")]
    public void Constructor_ValueOutOfBounds_Throws(int taps, int patchLength, double blur, int window, string parameter)
    {
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(
            () => new ProtectionParameters(taps, patchLength, blur, window));

        Assert.Equal(parameter, e.ParamName);
    }
}
