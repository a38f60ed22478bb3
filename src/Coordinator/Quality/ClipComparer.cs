using PosCuda.Shared.Analysis;

namespace PosCuda.Coordinator.Quality;

/// <summary>Compares a clean clip with its protected counterpart: the per-clip figures and both log-mel spectrograms.</summary>
/// <remarks>
/// Time-domain figures are taken on the mono mix (the mean of the channels) at the clean clip's own rate; a protected
/// clip at another rate is resampled to it first, and clips of different lengths are compared over the shorter one.
/// Clipping is counted on every channel sample. Log-mel spectrograms are computed at the analysis rate (resampling
/// either clip when its rate differs). Not thread-safe: one comparer per thread.
/// </remarks>
public sealed class ClipComparer
{
    private readonly QualitySettings _settings;
    private readonly LogMelAnalyzer _logMel;
    private readonly Dictionary<int, PowerSpectrogram> _spectrograms = [];

    /// <summary>Creates a comparer whose log-mel spectrograms use <paramref name="logMel"/>.</summary>
    public ClipComparer(QualitySettings settings, LogMelSettings logMel)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _logMel = new LogMelAnalyzer(logMel);
    }

    /// <summary>The comparison, the log-mel frames of each clip (row-major, frames x bands) and the mono signals.</summary>
    public sealed record Result(ClipComparison Comparison, double[] CleanLogMel, double[] ProtectedLogMel, double[] CleanMono, double[] ProtectedMono, int SampleRate);

    /// <summary>Compares two decoded clips.</summary>
    public Result Compare(string key, string label, DecodedClip clean, DecodedClip protectedClip)
    {
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(protectedClip);
        int rate = clean.SampleRate;
        double[] x = clean.Mono();
        double[] y = protectedClip.Mono();
        bool resampled = false;
        if (protectedClip.SampleRate != rate)
        {
            y = Resampler.Resample(y, protectedClip.SampleRate, rate);
            resampled = true;
        }

        int n = Math.Min(x.Length, y.Length);
        ReadOnlySpan<double> xs = x.AsSpan(0, n);
        ReadOnlySpan<double> ys = y.AsSpan(0, n);
        (int Start, int End)? span = SignalMetrics.ChangedSpan(xs, ys);
        int segment = Math.Max(1, (int)Math.Round(_settings.SegmentSeconds * rate));
        PowerSpectrogram spectrogram = SpectrogramAt(rate);
        int frames = spectrogram.FrameCount(n);
        double clipRms = SignalMetrics.RmsDbfs(xs);
        ClipComparison comparison;
        if (span is (int start, int end))
        {
            ReadOnlySpan<double> patchX = xs[start..end];
            ReadOnlySpan<double> patchY = ys[start..end];
            double spanRms = SignalMetrics.RmsDbfs(patchX);

            // Frames that overlap [start, end): frame f covers [f*hop, f*hop + L).
            int firstFrame = Math.Max(0, (start - spectrogram.FrameLength + spectrogram.Hop) / spectrogram.Hop);
            int endFrame = Math.Min(frames, ((end - 1) / spectrogram.Hop) + 1);
            comparison = new ClipComparison(
                key,
                label,
                Changed: true,
                start,
                end - start,
                SignalMetrics.Snr(xs, ys),
                SignalMetrics.SegmentalSnr(patchX, patchY, segment),
                SignalMetrics.SegmentalSnr(xs, ys, segment),
                SignalMetrics.LogSpectralDistance(spectrogram, xs, ys, 0, frames),
                SignalMetrics.LogSpectralDistance(spectrogram, xs, ys, firstFrame, Math.Max(endFrame, firstFrame + 1)),
                CountNewlyClipped(clean, protectedClip),
                spanRms,
                clipRms,
                _settings.IsQuietByLevel(spanRms),
                _settings.IsQuietByContrast(spanRms, clipRms),
                resampled);
        }
        else
        {
            comparison = new ClipComparison(
                key, label, Changed: false, 0, 0, double.PositiveInfinity, SignalMetrics.SegmentalCeilingDb, SignalMetrics.SegmentalCeilingDb,
                0, 0, 0, double.NaN, clipRms, QuietByLevel: false, QuietByContrast: false, resampled);
        }

        double[] cleanAtAnalysis = AtAnalysisRate(x, rate, ref resampled);
        double[] protectedAtAnalysis = AtAnalysisRate(y, rate, ref resampled);
        return new Result(
            comparison with { Resampled = resampled },
            _logMel.LogMel(cleanAtAnalysis, out _),
            _logMel.LogMel(protectedAtAnalysis, out _),
            x,
            y,
            rate);
    }

    /// <summary>Channel samples at full scale in <paramref name="protectedClip"/> that are not at full scale at the same
    /// place in <paramref name="clean"/> (over the frames and channels both have).</summary>
    public static long CountNewlyClipped(DecodedClip clean, DecodedClip protectedClip)
    {
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(protectedClip);
        long count = 0;
        int channels = Math.Min(clean.Channels.Length, protectedClip.Channels.Length);
        for (int c = 0; c < channels; c++)
        {
            double[] x = clean.Channels[c];
            double[] y = protectedClip.Channels[c];
            int n = Math.Min(x.Length, y.Length);
            for (int i = 0; i < n; i++)
            {
                if (protectedClip.IsFullScale(y[i]) && !clean.IsFullScale(x[i]))
                {
                    count++;
                }
            }
        }

        return count;
    }

    private double[] AtAnalysisRate(double[] samples, int rate, ref bool resampled)
    {
        if (rate == _logMel.Settings.SampleRate)
        {
            return samples;
        }

        resampled = true;
        return Resampler.Resample(samples, rate, _logMel.Settings.SampleRate);
    }

    private PowerSpectrogram SpectrogramAt(int rate)
    {
        if (!_spectrograms.TryGetValue(rate, out PowerSpectrogram? spectrogram))
        {
            // The LSD frames are the log-mel frames (25 ms every 10 ms) at the clip's own rate.
            var settings = _logMel.Settings with { SampleRate = rate };
            spectrogram = new PowerSpectrogram(settings.FrameLength, settings.Hop, settings.FftSize);
            _spectrograms[rate] = spectrogram;
        }

        return spectrogram;
    }
}
