using PosCuda.Shared.Analysis;

namespace PosCuda.Coordinator.Audit;

/// <summary>Summarises a clip into the fixed-size vector the probe learners see.</summary>
/// <remarks>
/// <para>
/// From the 40-band log-mel spectrogram (25 ms frames every 10 ms, at the analysis rate; a clip at another rate is
/// resampled with NAudio first): (1) the first second pooled into <see cref="HeadSegments"/> time segments, the mean of
/// each band in each (where the clip is shorter, frames count as silence, ln 1e-10); (2) the log energy of each of
/// the first second's 100 frames (position-sensitive, as the PosCUDA patch is); (3) the mean and standard deviation
/// of each band over the whole clip; (4) the mean and standard deviation of 13 MFCCs over the whole clip.
/// </para>
/// <para>Not thread-safe: one extractor per thread.</para>
/// </remarks>
public sealed class ClipFeatureExtractor
{
    /// <summary>Time segments the first second is pooled into.</summary>
    public const int HeadSegments = 8;

    /// <summary>MFCCs summarised.</summary>
    public const int MfccCount = 13;

    /// <summary>The version of the feature definition, part of every cache key.</summary>
    public const string Version = "clip-features/1";

    private readonly LogMelAnalyzer _logMel;
    private readonly int _headFrames;

    /// <summary>Creates an extractor at <paramref name="analysisRate"/> Hz.</summary>
    public ClipFeatureExtractor(int analysisRate)
    {
        _logMel = new LogMelAnalyzer(new LogMelSettings(analysisRate));
        _headFrames = (int)Math.Round(1.0 / _logMel.Settings.HopSeconds);
        int bands = _logMel.Settings.Bands;
        Dimension = (HeadSegments * bands) + _headFrames + (2 * bands) + (2 * MfccCount);
    }

    /// <summary>The length of a feature vector.</summary>
    public int Dimension { get; }

    /// <summary>A text naming the definition and its settings, for cache keys and reports.</summary>
    public string Describe() => $"{Version} {_logMel.Settings.Describe()} head={HeadSegments}x1s mfcc={MfccCount}";

    /// <summary>The feature vector of a mono signal at <paramref name="sampleRate"/>.</summary>
    public float[] Extract(ReadOnlySpan<double> samples, int sampleRate)
    {
        double[] atRate = sampleRate == _logMel.Settings.SampleRate ? samples.ToArray() : Resampler.Resample(samples, sampleRate, _logMel.Settings.SampleRate);
        int bands = _logMel.Settings.Bands;
        double[] logMel = _logMel.LogMel(atRate, out int frames);
        double floor = Math.Log(LogMelAnalyzer.EnergyFloor);
        var features = new float[Dimension];
        int at = 0;

        // (1) The first second in segments.
        for (int s = 0; s < HeadSegments; s++)
        {
            int first = s * _headFrames / HeadSegments;
            int end = (s + 1) * _headFrames / HeadSegments;
            for (int b = 0; b < bands; b++)
            {
                double sum = 0;
                for (int f = first; f < end; f++)
                {
                    sum += f < frames ? logMel[(f * bands) + b] : floor;
                }

                features[at++] = (float)(sum / Math.Max(1, end - first));
            }
        }

        // (2) Frame log energies over the first second.
        for (int f = 0; f < _headFrames; f++)
        {
            if (f >= frames)
            {
                features[at++] = (float)floor;
                continue;
            }

            double energy = 0;
            for (int b = 0; b < bands; b++)
            {
                energy += Math.Exp(logMel[(f * bands) + b]);
            }

            features[at++] = (float)Math.Log(Math.Max(energy, LogMelAnalyzer.EnergyFloor));
        }

        // (3) Per-band mean and standard deviation; (4) MFCC mean and standard deviation.
        var bandSum = new double[bands];
        var bandSquares = new double[bands];
        var mfccSum = new double[MfccCount];
        var mfccSquares = new double[MfccCount];
        Span<double> mfcc = stackalloc double[MfccCount];
        for (int f = 0; f < frames; f++)
        {
            ReadOnlySpan<double> row = logMel.AsSpan(f * bands, bands);
            for (int b = 0; b < bands; b++)
            {
                bandSum[b] += row[b];
                bandSquares[b] += row[b] * row[b];
            }

            LogMelAnalyzer.Mfcc(row, mfcc);
            for (int k = 0; k < MfccCount; k++)
            {
                mfccSum[k] += mfcc[k];
                mfccSquares[k] += mfcc[k] * mfcc[k];
            }
        }

        at = WriteMeanAndStd(features, at, bandSum, bandSquares, frames);
        WriteMeanAndStd(features, at, mfccSum, mfccSquares, frames);
        return features;
    }

    private static int WriteMeanAndStd(float[] features, int at, double[] sums, double[] squares, int count)
    {
        for (int i = 0; i < sums.Length; i++)
        {
            double mean = sums[i] / count;
            features[at++] = (float)mean;
            features[at++] = (float)Math.Sqrt(Math.Max(0, (squares[i] / count) - (mean * mean)));
        }

        return at;
    }
}
