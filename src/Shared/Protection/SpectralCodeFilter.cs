using System.Buffers;
using System.Collections.Concurrent;
using PosCuda.Shared.Audio;

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
            double melLow = MelScale.ToMel(low);
            double melHigh = MelScale.ToMel(high);
            for (int k = 0; k <= FrameLength / 2; k++)
            {
                double f = (double)k * sampleRate / FrameLength;
                if (f < low || f >= high)
                {
                    continue;
                }

                int slot = (int)Math.Floor(parameters.Slots * (MelScale.ToMel(f) - melLow) / (melHigh - melLow));
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

        return s_cache.GetOrAdd(key, static (k, slots) => new SpectralCodeFilter(k.SampleRate, slots, k.Parameters), (int[])code.Clone());
    }

    /// <summary>The smallest power of two of at least 32 ms at <paramref name="sampleRate"/> (256 at 8 kHz, 2048 at 44.1/48 kHz).</summary>
    public static int FrameLengthFor(int sampleRate)
    {
        long wanted = Math.Max(2, ((32L * sampleRate) + 999) / 1000);
        return (int)Math.Min(1 << 20, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)wanted));
    }

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
                ProcessGroup(x, 0, n, perturbation, first, frames, re.AsSpan(0, l), im.AsSpan(0, l),
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

    /// <summary>The STFT frames of a clip of <paramref name="clipLength"/> samples: <c>ceil(N/H) + 1</c>, none for an empty clip.</summary>
    public long FrameCount(long clipLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(clipLength);
        return clipLength == 0 ? 0 : ((clipLength + Hop - 1) / Hop) + 1;
    }

    /// <summary>The samples <c>[First, End)</c>, inside the clip, that the frames of group <paramref name="group"/> read and change.</summary>
    public (long First, long End) GroupSamples(long group, long clipLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfNegative(clipLength);
        long firstFrame = group * GroupFrames;
        long lastFrame = Math.Min(firstFrame + GroupFrames, FrameCount(clipLength)) - 1;
        return (Math.Clamp((firstFrame - 1) * Hop, 0, clipLength), Math.Clamp((lastFrame + 1) * Hop, 0, clipLength));
    }

    /// <summary>
    /// Adds into <paramref name="perturbation"/> what the frames of group <paramref name="group"/> contribute to it, frame
    /// by frame in ascending order, as <see cref="Perturbation"/> does for that group of the whole clip.
    /// </summary>
    /// <remarks>
    /// <paramref name="x"/> and <paramref name="perturbation"/> hold the clip's samples from <paramref name="origin"/>
    /// on, covering at least <see cref="GroupSamples"/>; the clip has <paramref name="clipLength"/> samples. Groups taken
    /// in ascending order over one perturbation (each sample starting at 0) give <see cref="Perturbation"/>'s values bit
    /// for bit, so a long clip can be processed a few groups at a time.
    /// </remarks>
    public void AddGroupPerturbation(ReadOnlySpan<double> x, long origin, long clipLength, long group, Span<double> perturbation)
    {
        if (perturbation.Length != x.Length)
        {
            throw new ArgumentException("The perturbation must be as long as the samples.", nameof(perturbation));
        }

        long frameCount = FrameCount(clipLength);
        long first = group * GroupFrames;
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(first, Math.Max(frameCount, 1), nameof(group));
        (long from, long to) = GroupSamples(group, clipLength);
        if (origin > from || origin + x.Length < to)
        {
            throw new ArgumentException($"The samples [{origin}, {origin + x.Length}) do not cover the group's [{from}, {to}).", nameof(x));
        }

        int c = _codedBins.Length;
        if (frameCount == 0 || c == 0)
        {
            return;
        }

        int l = FrameLength;
        int frames = (int)Math.Min(GroupFrames, frameCount - first);
        double[] re = ArrayPool<double>.Shared.Rent(l);
        double[] im = ArrayPool<double>.Shared.Rent(l);
        double[] codedRe = ArrayPool<double>.Shared.Rent(frames * c);
        double[] codedIm = ArrayPool<double>.Shared.Rent(frames * c);
        double[] cells = ArrayPool<double>.Shared.Rent(frames * CodeLength);
        double[] sorted = ArrayPool<double>.Shared.Rent(frames * CodeLength);
        try
        {
            ProcessGroup(x, origin, clipLength, perturbation, first, frames, re.AsSpan(0, l), im.AsSpan(0, l),
                codedRe, codedIm, cells.AsSpan(0, frames * CodeLength), sorted.AsSpan(0, frames * CodeLength));
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

    // x and perturbation hold the clip's samples from origin on (all those the group's frames cover); the clip has
    // clipLength samples.
    private void ProcessGroup(
        ReadOnlySpan<double> x, long origin, long clipLength, Span<double> perturbation, long firstFrame, int frames,
        Span<double> re, Span<double> im, double[] codedRe, double[] codedIm, Span<double> cells, Span<double> sorted)
    {
        int l = FrameLength;
        int half = l / 2;
        int c = _codedBins.Length;
        int w = CodeLength;
        double total = 0;
        cells.Clear();

        // Analysis, two frames per transform (frame f as the real part, f + 1 as the imaginary part): every frame's
        // spectrum, its energy, and the energy of each code slot.
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            Load(x, origin, clipLength, firstFrame + f, re);
            if (pair)
            {
                Load(x, origin, clipLength, firstFrame + f + 1, im);
            }
            else
            {
                im.Clear();
            }

            _fft.Transform(re, im, inverse: false);
            (double first, double second) = Split(re, im, f, pair, codedRe, codedIm, cells);
            total += first;
            if (pair)
            {
                total += second;
            }
        }

        double depthSquared = _depth * _depth;
        for (int i = 0; i < cells.Length; i++)
        {
            sorted[i] = depthSquared * cells[i];
        }

        double level = WaterLevel(sorted, _budgetFraction * total);

        // Each cell's gain, in place of its energy (the energies are not needed any more).
        for (int i = 0; i < cells.Length; i++)
        {
            double energy = cells[i];
            cells[i] = energy == 0 || depthSquared * energy <= level ? _depth : Math.Sqrt(level / energy);
        }

        // Synthesis, two frames per inverse transform: each frame's attenuation of the coded bins, as
        // W = Q_f + i Q_(f+1), windowed and overlap-added in ascending frame order.
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            re.Clear();
            im.Clear();
            for (int b = 0; b < c; b++)
            {
                int k = _codedBins[b];
                double gainA = cells[(f * w) + _codedCell[b]];
                double ar = -(gainA * codedRe[(f * c) + b]);
                double ai = -(gainA * codedIm[(f * c) + b]);
                double br = 0;
                double bi = 0;
                if (pair)
                {
                    double gainB = cells[((f + 1) * w) + _codedCell[b]];
                    br = -(gainB * codedRe[((f + 1) * c) + b]);
                    bi = -(gainB * codedIm[((f + 1) * c) + b]);
                }

                re[k] = ar - bi;
                im[k] = ai + br;
                if (k != 0 && k != half)
                {
                    re[l - k] = ar + bi;
                    im[l - k] = br - ai;
                }
            }

            _fft.Transform(re, im, inverse: true);
            Add(re, origin, clipLength, firstFrame + f, perturbation);
            if (pair)
            {
                Add(im, origin, clipLength, firstFrame + f + 1, perturbation);
            }
        }
    }

    // Frame t's windowed samples: x[(t-1)H + i] * win[i], 0 outside the clip.
    private void Load(ReadOnlySpan<double> x, long origin, long clipLength, long frame, Span<double> destination)
    {
        long start = (frame - 1) * Hop;
        ReadOnlySpan<double> window = _window;
        if (start >= 0 && start + destination.Length <= clipLength)
        {
            ReadOnlySpan<double> samples = x.Slice((int)(start - origin), destination.Length);
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = samples[i] * window[i];
            }

            return;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            long m = start + i;
            destination[i] = m >= 0 && m < clipLength ? x[(int)(m - origin)] * window[i] : 0.0;
        }
    }

    // p[(t-1)H + i] += win[i] * q[i] over the samples inside the clip.
    private void Add(ReadOnlySpan<double> q, long origin, long clipLength, long frame, Span<double> perturbation)
    {
        long start = (frame - 1) * Hop;
        ReadOnlySpan<double> window = _window;
        if (start >= 0 && start + q.Length <= clipLength)
        {
            Span<double> samples = perturbation.Slice((int)(start - origin), q.Length);
            for (int i = 0; i < q.Length; i++)
            {
                samples[i] += window[i] * q[i];
            }

            return;
        }

        for (int i = 0; i < q.Length; i++)
        {
            long m = start + i;
            if (m >= 0 && m < clipLength)
            {
                perturbation[(int)(m - origin)] += window[i] * q[i];
            }
        }
    }

    // The two real frames' spectra out of the paired transform Z (bins 0..L/2): the real-part frame is
    // X[k] = (Z[k] + conj Z[L-k]) / 2, the imaginary-part frame (Z[k] - conj Z[L-k]) / 2i. Stores their coded bins,
    // adds their cell energies, and returns their energies (the second 0 when there is no second frame).
    private (double First, double Second) Split(ReadOnlySpan<double> re, ReadOnlySpan<double> im, int f, bool pair, double[] codedRe, double[] codedIm, Span<double> cells)
    {
        int l = FrameLength;
        int half = l / 2;
        int c = _codedBins.Length;
        int w = CodeLength;
        int[] codedBins = _codedBins;
        int[] codedCell = _codedCell;
        double energyA = 0;
        double energyB = 0;
        int b = 0;
        int nextCoded = codedBins[0];
        for (int k = 0; k <= half; k++)
        {
            int m = (l - k) & (l - 1);
            double ar = 0.5 * (re[k] + re[m]);
            double ai = 0.5 * (im[k] - im[m]);
            double powerA = (ar * ar) + (ai * ai);
            double weightedA = k == 0 || k == half ? powerA : 2.0 * powerA;
            energyA += weightedA;
            double br = 0, bi = 0, weightedB = 0;
            if (pair)
            {
                br = 0.5 * (im[k] + im[m]);
                bi = 0.5 * (re[m] - re[k]);
                double powerB = (br * br) + (bi * bi);
                weightedB = k == 0 || k == half ? powerB : 2.0 * powerB;
                energyB += weightedB;
            }

            if (k == nextCoded)
            {
                cells[(f * w) + codedCell[b]] += weightedA;
                codedRe[(f * c) + b] = ar;
                codedIm[(f * c) + b] = ai;
                if (pair)
                {
                    cells[((f + 1) * w) + codedCell[b]] += weightedB;
                    codedRe[((f + 1) * c) + b] = br;
                    codedIm[((f + 1) * c) + b] = bi;
                }

                b++;
                nextCoded = b < c ? codedBins[b] : -1;
            }
        }

        return (energyA, energyB);
    }
}
