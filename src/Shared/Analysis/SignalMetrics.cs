namespace PosCuda.Shared.Analysis;

/// <summary>Distortion measures between a clean signal x and a changed copy y of the same length (noise e = y - x).</summary>
/// <remarks>Definitions in docs/quality-and-audit.md; every figure is in dB.</remarks>
public static class SignalMetrics
{
    /// <summary>The customary clamp of one segmental-SNR frame: [-10, 35] dB.</summary>
    public const double SegmentalFloorDb = -10;

    /// <summary>The upper clamp of one segmental-SNR frame.</summary>
    public const double SegmentalCeilingDb = 35;

    /// <summary>The floor under a power spectrum bin before the log in the log-spectral distance.</summary>
    public const double SpectralFloor = 1e-12;

    /// <summary>The span from the first to the last sample where the signals differ, as [start, end); null when equal.</summary>
    public static (int Start, int End)? ChangedSpan(ReadOnlySpan<double> clean, ReadOnlySpan<double> changed)
    {
        int n = Math.Min(clean.Length, changed.Length);
        int first = -1;
        for (int i = 0; i < n; i++)
        {
            if (clean[i] != changed[i])
            {
                first = i;
                break;
            }
        }

        if (first < 0)
        {
            return clean.Length == changed.Length ? null : (n, Math.Max(clean.Length, changed.Length));
        }

        int last = first;
        for (int i = n - 1; i > first; i--)
        {
            if (clean[i] != changed[i])
            {
                last = i;
                break;
            }
        }

        return (first, clean.Length == changed.Length ? last + 1 : Math.Max(clean.Length, changed.Length));
    }

    /// <summary>SNR in dB: <c>10 log10(sum x^2 / sum e^2)</c>; +infinity when e = 0, -infinity when x = 0 and e != 0.</summary>
    public static double Snr(ReadOnlySpan<double> clean, ReadOnlySpan<double> changed)
    {
        (double signal, double noise) = Energies(clean, changed);
        return ToDb(signal, noise);
    }

    /// <summary>Segmental SNR in dB: the mean over frames of <paramref name="frameLength"/> samples of each frame's SNR,
    /// clamped to [-10, 35] dB.</summary>
    /// <remarks>Frames do not overlap and start at the first sample; a last partial frame counts as a frame. A frame
    /// without noise scores 35 dB, a frame of silence with noise -10 dB. An empty signal gives NaN.</remarks>
    public static double SegmentalSnr(ReadOnlySpan<double> clean, ReadOnlySpan<double> changed, int frameLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameLength);
        ArgumentOutOfRangeException.ThrowIfNotEqual(changed.Length, clean.Length);
        if (clean.IsEmpty)
        {
            return double.NaN;
        }

        double total = 0;
        int frames = 0;
        for (int start = 0; start < clean.Length; start += frameLength)
        {
            int length = Math.Min(frameLength, clean.Length - start);
            (double signal, double noise) = Energies(clean.Slice(start, length), changed.Slice(start, length));
            total += Math.Clamp(ToDb(signal, noise), SegmentalFloorDb, SegmentalCeilingDb);
            frames++;
        }

        return total / frames;
    }

    /// <summary>Log-spectral distance in dB: per frame <c>sqrt(mean_k (10 log10 Px(k) - 10 log10 Py(k))^2)</c>, averaged
    /// over the frames of <paramref name="spectrogram"/> whose start lies in [<paramref name="firstFrame"/>, <paramref name="endFrame"/>).</summary>
    public static double LogSpectralDistance(PowerSpectrogram spectrogram, ReadOnlySpan<double> clean, ReadOnlySpan<double> changed, int firstFrame, int endFrame)
    {
        ArgumentNullException.ThrowIfNull(spectrogram);
        ArgumentOutOfRangeException.ThrowIfNotEqual(changed.Length, clean.Length);
        int bins = spectrogram.Bins;
        var px = new double[bins];
        var py = new double[bins];
        double total = 0;
        int frames = 0;
        for (int f = Math.Max(0, firstFrame); f < endFrame; f++)
        {
            int start = f * spectrogram.Hop;
            spectrogram.Frame(clean, start, px);
            spectrogram.Frame(changed, start, py);
            double sum = 0;
            for (int k = 0; k < bins; k++)
            {
                double diff = 10 * (Math.Log10(px[k] + SpectralFloor) - Math.Log10(py[k] + SpectralFloor));
                sum += diff * diff;
            }

            total += Math.Sqrt(sum / bins);
            frames++;
        }

        return frames == 0 ? 0 : total / frames;
    }

    /// <summary>The RMS of <paramref name="samples"/> in dB relative to full scale (an RMS of 1 is 0 dBFS); -infinity
    /// for silence or no samples.</summary>
    public static double RmsDbfs(ReadOnlySpan<double> samples)
    {
        if (samples.IsEmpty)
        {
            return double.NegativeInfinity;
        }

        double sum = 0;
        foreach (double s in samples)
        {
            sum += s * s;
        }

        return 10 * Math.Log10(sum / samples.Length);
    }

    private static (double Signal, double Noise) Energies(ReadOnlySpan<double> clean, ReadOnlySpan<double> changed)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(changed.Length, clean.Length);
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < clean.Length; i++)
        {
            double e = changed[i] - clean[i];
            signal += clean[i] * clean[i];
            noise += e * e;
        }

        return (signal, noise);
    }

    private static double ToDb(double signal, double noise) => noise == 0
        ? double.PositiveInfinity
        : signal == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal / noise);
}
