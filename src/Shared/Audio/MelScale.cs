namespace PosCuda.Shared.Audio;

/// <summary>The HTK mel scale, <c>2595 log10(1 + f / 700)</c>, shared by the analysis filter bank and poscuda-v2's slots.</summary>
/// <remarks>poscuda-v2 pins these exact operations (its vectors would catch a change): keep them as they are.</remarks>
public static class MelScale
{
    /// <summary>Hz to mel.</summary>
    public static double ToMel(double hertz) => 2595.0 * Math.Log10(1.0 + (hertz / 700.0));

    /// <summary>Mel to Hz.</summary>
    public static double ToHertz(double mel) => 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);
}
