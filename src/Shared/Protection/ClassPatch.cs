namespace PosCuda.Shared.Protection;

/// <summary>What one class's key derives. Holds no secret.</summary>
/// <param name="Label">The class label, exactly as resolved.</param>
/// <param name="Taps">poscuda-v1: the k float32 taps f[j]; empty for poscuda-v2.</param>
/// <param name="Position">poscuda-v1: the keyed patch start, in <c>[0, W - p]</c>; 0 for poscuda-v2.</param>
public sealed record ClassPatch(string Label, float[] Taps, long Position)
{
    /// <summary>poscuda-v2: the class's code, its slot indices in ascending order; empty for poscuda-v1.</summary>
    public int[] Code { get; init; } = [];
}
