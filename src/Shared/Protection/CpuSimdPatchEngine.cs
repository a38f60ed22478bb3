namespace PosCuda.Shared.Protection;

/// <summary>The default engine: <see cref="PatchConvolution"/> on this CPU's vector units, one patch after another.</summary>
public sealed class CpuSimdPatchEngine : IPatchEngine
{
    /// <summary>The engine's name.</summary>
    public const string EngineName = "cpu-simd";

    private CpuSimdPatchEngine()
    {
    }

    /// <summary>The one instance.</summary>
    public static CpuSimdPatchEngine Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => EngineName;

    /// <inheritdoc/>
    public bool PrefersBatches => false;

    /// <inheritdoc/>
    public void Convolve(ReadOnlySpan<double> taps, ReadOnlySpan<double> inputs, ReadOnlySpan<PatchRegion> regions, Span<double> outputs)
    {
        int context = taps.Length - 1;
        foreach (PatchRegion region in regions)
        {
            PatchConvolution.Convolve(
                inputs.Slice(region.InputOffset, region.Length + context), taps, outputs.Slice(region.OutputOffset, region.Length));
        }
    }
}
