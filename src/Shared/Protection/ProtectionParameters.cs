namespace PosCuda.Shared.Protection;

/// <summary>The parameters of a protection job (docs/spec.md, "Parameters"), validated at construction.</summary>
public sealed record ProtectionParameters
{
    /// <summary>The spec every job and output records.</summary>
    public const string DefaultSpec = PoscudaV1.SpecName;

    public ProtectionParameters(
        int taps = 80, int patchLength = 240, double blur = 0.01, int window = 4000,
        PatchMode mode = PatchMode.Positional, string spec = DefaultSpec, SpectralCodeParameters? code = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(taps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(taps, 2040);
        ArgumentOutOfRangeException.ThrowIfLessThan(patchLength, 1);
        if (!double.IsFinite(blur) || blur <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blur), blur, "The blur factor must be finite and > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(window, patchLength);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        Taps = taps;
        PatchLength = patchLength;
        Blur = blur;
        Window = window;
        Mode = mode;
        Spec = spec;
        Code = code ?? SpectralCodeParameters.Default;
    }

    /// <summary>k: filter taps.</summary>
    public int Taps { get; }

    /// <summary>p: patch length in samples.</summary>
    public int PatchLength { get; }

    /// <summary>b: blur factor.</summary>
    public double Blur { get; }

    /// <summary>W: position window in samples; patches start in <c>[0, W - p]</c>.</summary>
    public int Window { get; }

    /// <summary>Positional (PosCUDA) or whole-clip.</summary>
    public PatchMode Mode { get; }

    /// <summary>The spec version, e.g. <c>poscuda-v1</c>.</summary>
    public string Spec { get; }

    /// <summary>poscuda-v2's spectral code parameters (v1 ignores them).</summary>
    public SpectralCodeParameters Code { get; }
}
