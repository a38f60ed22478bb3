namespace PosCuda.Shared.Analysis;

/// <summary>How log-mel spectra are computed: frame and hop lengths, bands and frequency range.</summary>
/// <param name="SampleRate">The analysis rate in Hz.</param>
/// <param name="FrameSeconds">Frame (window) length; 25 ms by default.</param>
/// <param name="HopSeconds">Hop between frame starts; 10 ms by default.</param>
/// <param name="Bands">Mel bands; 40 by default.</param>
/// <param name="MinHz">Lowest band edge.</param>
/// <param name="MaxHz">Highest band edge; null for the Nyquist frequency.</param>
public sealed record LogMelSettings(
    int SampleRate, double FrameSeconds = 0.025, double HopSeconds = 0.010, int Bands = 40, double MinHz = 20, double? MaxHz = null)
{
    private readonly bool _checked = Check(SampleRate, FrameSeconds, HopSeconds, Bands);

    /// <summary>Frame length in samples (at least 2).</summary>
    public int FrameLength => Math.Max(2, (int)Math.Round(FrameSeconds * SampleRate));

    /// <summary>Hop in samples (at least 1).</summary>
    public int Hop => Math.Max(1, (int)Math.Round(HopSeconds * SampleRate));

    /// <summary>FFT size: the smallest power of two at least <see cref="FrameLength"/>.</summary>
    public int FftSize => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)FrameLength);

    /// <summary>The upper band edge in Hz.</summary>
    public double UpperHz => MaxHz ?? SampleRate / 2.0;

    /// <summary>A short text that identifies these settings (for cache keys and reports).</summary>
    public string Describe() => FormattableString.Invariant(
        $"logmel sr={SampleRate} frame={FrameSeconds} hop={HopSeconds} bands={Bands} f={MinHz}-{UpperHz}");

    private static bool Check(int sampleRate, double frameSeconds, double hopSeconds, int bands)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameSeconds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hopSeconds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bands);
        return true;
    }
}
