using System.Buffers;
using System.Collections.Concurrent;

namespace PosCuda.Shared.Protection;

/// <summary>
/// poscuda-v2's transform for one sample rate and one class code: the perturbation a channel gets (docs/spec.md,
/// "Applying it to one clip"). Holds the window, the FFT tables and which bins are coded; safe to share.
/// </summary>
public sealed class SpectralCodeFilter
{
    /// <summary>STFT frames that share one energy budget (a group of frames, about 8-11 s of audio).</summary>
    public const int GroupFrames = 512;

    private const int CacheLimit = 4096;

    private static readonly ConcurrentDictionary<(int SampleRate, string Code, SpectralCodeParameters Parameters), SpectralCodeFilter> s_cache = new();

    private readonly Radix2Fft _fft;
    private readonly double[] _window;
    private readonly int[] _codedBins;      // bins 0..L/2 whose slot is in the code, ascending
    private readonly int[] _codedCell;      // for each coded bin: the index of its slot within the code
    private readonly double _depth;
    private readonly double _budgetFraction;

    private SpectralCodeFilter(int sampleRate, int[] code, SpectralCodeParameters parameters)
    {
        FrameLength = FrameLengthFor(sampleRate);
        Hop = FrameLength / 2;
        CodeLength = code.Length;
        _fft = new Radix2Fft(FrameLength);
        _window = new double[FrameLength];
        for (int i = 0; i < FrameLength; i++)
        {
            _window[i] = Math.Sqrt(0.5 - (0.5 * Math.Cos(2.0 * Math.PI * i / FrameLength)));
        }

        _depth = parameters.Depth;
        _budgetFraction = Math.Pow(10.0, -parameters.TargetSnr / 10.0);

        double low = parameters.MinFrequency;
        double high = Math.Min(parameters.MaxFrequency, sampleRate / 2.0);
        var bins = new List<int>();
        var cells = new List<int>();
        if (high > low)
        {
            double melLow = Mel(low);
            double melHigh = Mel(high);
            for (int k = 0; k <= FrameLength / 2; k++)
            {
                double f = (double)k * sampleRate / FrameLength;
                if (f < low || f >= high)
                {
                    continue;
                }

                int slot = (int)Math.Floor(parameters.Slots * (Mel(f) - melLow) / (melHigh - melLow));
                int cell = Array.IndexOf(code, slot);
                if (cell >= 0)
                {
                    bins.Add(k);
                    cells.Add(cell);
                }
            }
        }

        _codedBins = [.. bins];
        _codedCell = [.. cells];
    }

    /// <summary>L: the STFT frame length, the smallest power of two of at least 32 ms.</summary>
    public int FrameLength { get; }

    /// <summary>H = L / 2.</summary>
    public int Hop { get; }

    /// <summary>w: the number of slots in the code.</summary>
    public int CodeLength { get; }

    /// <summary>How many bins the code attenuates.</summary>
    public int CodedBins => _codedBins.Length;

    /// <summary>The filter for <paramref name="sampleRate"/> and a class's <paramref name="code"/>, shared and cached.</summary>
    public static SpectralCodeFilter For(int sampleRate, int[] code, SpectralCodeParameters parameters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(parameters);
        var key = (sampleRate, string.Join(',', code), parameters);
        if (s_cache.TryGetValue(key, out SpectralCodeFilter? filter))
        {
            return filter;
        }

        if (s_cache.Count >= CacheLimit)
        {
            s_cache.Clear();
        }

        return s_cache.GetOrAdd(key, static k => new SpectralCodeFilter(k.SampleRate, k.Code.Length == 0 ? [] : Array.ConvertAll(k.Code.Split(','), int.Parse), k.Parameters));
    }

    /// <summary>The smallest power of two of at least 32 ms at <paramref name="sampleRate"/> (256 at 8 kHz, 2048 at 44.1/48 kHz).</summary>
    public static int FrameLengthFor(int sampleRate)
    {
        long wanted = Math.Max(2, ((32L * sampleRate) + 999) / 1000);
        return (int)Math.Min(1 << 20, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)wanted));
    }

    /// <summary>The mel scale the slots are spaced on (HTK): <c>2595 log10(1 + f / 700)</c>.</summary>
    public static double Mel(double hertz) => 2595.0 * Math.Log10(1.0 + (hertz / 700.0));

    /// <summary>Writes into <paramref name="perturbation"/> what poscuda-v2 adds to the channel <paramref name="x"/>.</summary>
    public void Perturbation(ReadOnlySpan<double> x, Span<double> perturbation)
    {
        if (perturbation.Length != x.Length)
        {
            throw new ArgumentException("The perturbation must be as long as the channel.", nameof(perturbation));
        }

        perturbation.Clear();
        int n = x.Length;
        int c = _codedBins.Length;
        if (n == 0 || c == 0)
        {
            return;
        }

        int l = FrameLength;
        int hop = Hop;
        long frameCount = ((n + (long)hop - 1) / hop) + 1;
        int groupSize = (int)Math.Min(GroupFrames, frameCount);
        double[] re = ArrayPool<double>.Shared.Rent(l);
        double[] im = ArrayPool<double>.Shared.Rent(l);
        double[] codedRe = ArrayPool<double>.Shared.Rent(groupSize * c);
        double[] codedIm = ArrayPool<double>.Shared.Rent(groupSize * c);
        double[] cells = ArrayPool<double>.Shared.Rent(groupSize * CodeLength);
        double[] sorted = ArrayPool<double>.Shared.Rent(groupSize * CodeLength);
        try
        {
            for (long first = 0; first < frameCount; first += GroupFrames)
            {
                int frames = (int)Math.Min(GroupFrames, frameCount - first);
                ProcessGroup(x, perturbation, first, frames, re.AsSpan(0, l), im.AsSpan(0, l),
                    codedRe, codedIm, cells.AsSpan(0, frames * CodeLength), sorted.AsSpan(0, frames * CodeLength));
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(re);
            ArrayPool<double>.Shared.Return(im);
            ArrayPool<double>.Shared.Return(codedRe);
            ArrayPool<double>.Shared.Return(codedIm);
            ArrayPool<double>.Shared.Return(cells);
            ArrayPool<double>.Shared.Return(sorted);
        }
    }

    /// <summary>
    /// The water level <c>lambda</c> with <c>sum min(v_i, lambda) = budget</c> over the ascending values; infinity when
    /// even <c>sum v_i</c> fits the budget.
    /// </summary>
    public static double WaterLevel(Span<double> values, double budget)
    {
        values.Sort();
        double rest = budget;
        int count = values.Length;
        for (int i = 0; i < count; i++)
        {
            double level = rest / (count - i);
            if (values[i] >= level)
            {
                return level;
            }

            rest -= values[i];
        }

        return double.PositiveInfinity;
    }

    private void ProcessGroup(
        ReadOnlySpan<double> x, Span<double> perturbation, long firstFrame, int frames,
        Span<double> re, Span<double> im, double[] codedRe, double[] codedIm, Span<double> cells, Span<double> sorted)
    {
        int l = FrameLength;
        int half = l / 2;
        int c = _codedBins.Length;
        int w = CodeLength;
        int n = x.Length;
        double total = 0;
        cells.Clear();

        // Analysis: every frame's spectrum, its energy, and the energy of each code slot.
        for (int f = 0; f < frames; f++)
        {
            long start = ((firstFrame + f - 1) * Hop);
            for (int i = 0; i < l; i++)
            {
                long m = start + i;
                re[i] = m >= 0 && m < n ? x[(int)m] * _window[i] : 0.0;
                im[i] = 0.0;
            }

            _fft.Transform(re, im, inverse: false);
            double frameEnergy = 0;
            for (int k = 0; k <= half; k++)
            {
                double power = (re[k] * re[k]) + (im[k] * im[k]);
                frameEnergy += k == 0 || k == half ? power : 2.0 * power;
            }

            total += frameEnergy;
            for (int b = 0; b < c; b++)
            {
                int k = _codedBins[b];
                double power = (re[k] * re[k]) + (im[k] * im[k]);
                cells[(f * w) + _codedCell[b]] += k == 0 || k == half ? power : 2.0 * power;
                codedRe[(f * c) + b] = re[k];
                codedIm[(f * c) + b] = im[k];
            }
        }

        double depthSquared = _depth * _depth;
        for (int i = 0; i < cells.Length; i++)
        {
            sorted[i] = depthSquared * cells[i];
        }

        double level = WaterLevel(sorted, _budgetFraction * total);

        // Synthesis: each frame's attenuation of the coded bins, windowed and overlap-added.
        for (int f = 0; f < frames; f++)
        {
            re.Clear();
            im.Clear();
            for (int b = 0; b < c; b++)
            {
                double energy = cells[(f * w) + _codedCell[b]];
                double gain = energy == 0 || depthSquared * energy <= level ? _depth : Math.Sqrt(level / energy);
                int k = _codedBins[b];
                double qr = -(gain * codedRe[(f * c) + b]);
                double qi = -(gain * codedIm[(f * c) + b]);
                re[k] = qr;
                im[k] = qi;
                if (k != 0 && k != half)
                {
                    re[l - k] = qr;
                    im[l - k] = -qi;
                }
            }

            _fft.Transform(re, im, inverse: true);
            long start = ((firstFrame + f - 1) * Hop);
            for (int i = 0; i < l; i++)
            {
                long m = start + i;
                if (m >= 0 && m < n)
                {
                    perturbation[(int)m] += _window[i] * re[i];
                }
            }
        }
    }
}
