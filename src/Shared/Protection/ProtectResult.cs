namespace PosCuda.Shared.Protection;

/// <summary>What protecting one clip did.</summary>
/// <param name="PatchStart">The first patched frame.</param>
/// <param name="PatchLength">The number of patched frames.</param>
/// <param name="ClippedSamples">Channel samples clamped on encode (or beyond full scale, for float).</param>
public sealed record ProtectResult(long PatchStart, long PatchLength, long ClippedSamples);
