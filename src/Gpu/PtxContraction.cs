using System.Text.RegularExpressions;

namespace PosCuda.Gpu;

/// <summary>Finds the floating-point instructions of a PTX module that a PTX compiler may contract into a fused multiply-add.</summary>
/// <remarks>
/// <c>poscuda-v1</c> forbids fused multiply-add. The PTX ISA lets ptxas (the driver's JIT) fuse a plain <c>mul.f64</c> and
/// <c>add.f64</c> (no rounding modifier) into <c>fma.rn.f64</c>: one rounding instead of two, so a GPU could differ from the
/// CPU in the last bit. ILGPU 1.5.3 emits exactly those plain forms for <c>a * b + c</c>. Instructions with an explicit
/// rounding modifier (<c>mul.rn.f64</c>, <c>add.rn.f64</c>) are never contracted, so <see cref="PatchKernel"/> emits those
/// through inline PTX, and the engine refuses to load a module in which this finds anything.
/// </remarks>
public static partial class PtxContraction
{
    /// <summary>The instructions of <paramref name="ptx"/> that could be (or are) fused: plain float mul/add/sub, and any fma or mad.</summary>
    public static IReadOnlyList<string> ContractibleInstructions(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        var found = new List<string>();
        foreach (Match match in PlainArithmetic().Matches(ptx))
        {
            found.Add(match.Value);
        }

        foreach (Match match in FusedArithmetic().Matches(ptx))
        {
            found.Add(match.Value);
        }

        return found;
    }

    // mul.f64, add.f32, sub.f64, also with .ftz/.sat but without a rounding modifier (.rn, .rz, .rm, .rp).
    [GeneratedRegex(@"\b(mul|add|sub)(\.ftz|\.sat)*\.(f32|f64)\b", RegexOptions.CultureInvariant)]
    private static partial Regex PlainArithmetic();

    [GeneratedRegex(@"\b(fma|mad)(\.[a-z0-9]+)*\.(f32|f64)\b", RegexOptions.CultureInvariant)]
    private static partial Regex FusedArithmetic();
}
