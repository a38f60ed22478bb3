namespace PosCuda.Shared.Protection;

/// <summary>Where the patch convolution of <c>poscuda-v1</c> runs: one class's taps over many patches at once.</summary>
/// <remarks>
/// Every engine computes <c>y[n] = sum_{j=0}^{k-1} taps[j] * x[n + j]</c> with j summed in order, a separate multiply and add per
/// term and no fused multiply-add, so all engines give bit-identical outputs. Decoding and encoding stay with the caller.
/// Engines are safe to call from many threads at once.
/// </remarks>
public interface IPatchEngine
{
    /// <summary>The engine's name, as <c>--device</c> reports it (e.g. <c>cpu-simd</c>, <c>ilgpu-cuda</c>).</summary>
    string Name { get; }

    /// <summary>True when a call has a fixed cost worth sharing (a device launch), so callers should gather many patches per call.</summary>
    bool PrefersBatches { get; }

    /// <summary>Convolves every region of <paramref name="inputs"/> with <paramref name="taps"/> into <paramref name="outputs"/>.</summary>
    /// <param name="taps">The class's k taps (float32 values held as float64).</param>
    /// <param name="inputs">The regions' inputs; region r reads <c>inputs[r.InputOffset .. r.InputOffset + r.Length + k - 1)</c>.</param>
    /// <param name="regions">The patches.</param>
    /// <param name="outputs">Region r writes <c>outputs[r.OutputOffset .. r.OutputOffset + r.Length)</c>.</param>
    void Convolve(ReadOnlySpan<double> taps, ReadOnlySpan<double> inputs, ReadOnlySpan<PatchRegion> regions, Span<double> outputs);
}
