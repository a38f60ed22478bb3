namespace PosCuda.Shared.Protection;

/// <summary>What one class's key derives: the filter taps and the patch position. Holds no secret.</summary>
/// <param name="Label">The class label, exactly as resolved.</param>
/// <param name="Taps">The k float32 taps f[j].</param>
/// <param name="Position">The keyed patch start, in <c>[0, W - p]</c>.</param>
public sealed record ClassPatch(string Label, float[] Taps, long Position);
