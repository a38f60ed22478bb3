using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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
    private readonly int[] _codedAt;        // for each coded bin k: where the FFT's bit-reversed input holds it
    private readonly int[] _mirrorAt;       // and where it holds bin L-k (-1 for k = 0 and k = L/2, which have no mirror)
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
        ReadOnlySpan<int> reversed = _fft.BitReversed;
        _codedAt = new int[_codedBins.Length];
        _mirrorAt = new int[_codedBins.Length];
        for (int b = 0; b < _codedBins.Length; b++)
        {
            int k = _codedBins[b];
            _codedAt[b] = reversed[k];
            _mirrorAt[b] = k == 0 || k == FrameLength / 2 ? -1 : reversed[FrameLength - k];
        }
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
    /// <remarks>
    /// The hot methods are marked AggressiveOptimization: the tools run with tiered compilation off, so a method
    /// precompiled (ReadyToRun) for the baseline instruction set would never be recompiled for the machine.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        double[] split = ArrayPool<double>.Shared.Rent(6 * ((l / 2) + 1));
        try
        {
            for (long first = 0; first < frameCount; first += GroupFrames)
            {
                int frames = (int)Math.Min(GroupFrames, frameCount - first);
                ProcessGroup(x, 0, n, perturbation, first, frames, re.AsSpan(0, l), im.AsSpan(0, l),
                    codedRe, codedIm, cells.AsSpan(0, frames * CodeLength), sorted.AsSpan(0, frames * CodeLength), split);
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
            ArrayPool<double>.Shared.Return(split);
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
        double[] split = ArrayPool<double>.Shared.Rent(6 * ((l / 2) + 1));
        try
        {
            ProcessGroup(x, origin, clipLength, perturbation, first, frames, re.AsSpan(0, l), im.AsSpan(0, l),
                codedRe, codedIm, cells.AsSpan(0, frames * CodeLength), sorted.AsSpan(0, frames * CodeLength), split);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(re);
            ArrayPool<double>.Shared.Return(im);
            ArrayPool<double>.Shared.Return(codedRe);
            ArrayPool<double>.Shared.Return(codedIm);
            ArrayPool<double>.Shared.Return(cells);
            ArrayPool<double>.Shared.Return(sorted);
            ArrayPool<double>.Shared.Return(split);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProcessGroup(
        ReadOnlySpan<double> x, long origin, long clipLength, Span<double> perturbation, long firstFrame, int frames,
        Span<double> re, Span<double> im, double[] codedRe, double[] codedIm, Span<double> cells, Span<double> sorted, double[] split)
    {
        int l = FrameLength;
        int half = l / 2;
        int c = _codedBins.Length;
        int w = CodeLength;
        double total = 0;
        cells.Clear();

        // Analysis, two frames per transform (frame f as the real part, f + 1 as the imaginary part): every frame's
        // spectrum, its energy, and the energy of each code slot. The frames are loaded straight into the FFT's
        // bit-reversed input order.
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

            _fft.TransformPermuted(re, im, inverse: false);
            (double first, double second) = Split(re, im, f, pair, codedRe, codedIm, cells, split);
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
        // W = Q_f + i Q_(f+1) (written into the FFT's bit-reversed input order), windowed and overlap-added in
        // ascending frame order, the transform's 1/L applied on the way.
        double scale = 1.0 / l;
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            Attenuation(f, pair, cells, codedRe, codedIm, re, im);
            _fft.TransformPermuted(re, im, inverse: true);
            Add(re, scale, origin, clipLength, firstFrame + f, perturbation);
            if (pair)
            {
                Add(im, scale, origin, clipLength, firstFrame + f + 1, perturbation);
            }
        }
    }

    // The pointer loops' guard: the frame's samples [start + from, start + to) must lie in the span that holds the
    // clip's samples from origin on (ProcessGroup's callers promise it; a broken promise throws, never reads past).
    private static void CheckCovered(int length, long origin, long start, int from, int to)
    {
        if (to > from && (start + from - origin < 0 || start + to - origin > length))
        {
            throw new ArgumentException($"The samples [{origin}, {origin + length}) do not cover the frame's [{start + from}, {start + to}).");
        }
    }

    // W = Q_f + i Q_(f+1) for the synthesis of frames f and f+1 (Q_(f+1) = 0 without a pair), each bin at its
    // bit-reversed place: Q[k] = -(g Re X[k]) + i -(g Im X[k]) at the coded bins, its conjugate at L-k, 0 elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Attenuation(int f, bool pair, ReadOnlySpan<double> gains, double[] codedRe, double[] codedIm, Span<double> re, Span<double> im)
    {
        re.Clear();
        im.Clear();
        int c = _codedBins.Length;
        int w = CodeLength;
        fixed (double* allGains = gains, allRe = codedRe, allIm = codedIm, wr = re, wi = im)
        fixed (int* cellOf = _codedCell, at = _codedAt, mirrorAt = _mirrorAt)
        {
            double* gainsA = allGains + (f * w);
            double* gainsB = gainsA + w;
            double* ra = allRe + (f * c);
            double* ia = allIm + (f * c);
            double* rb = ra + c;
            double* ib = ia + c;
            for (int b = 0; b < c; b++)
            {
                double gainA = gainsA[cellOf[b]];
                double ar = -(gainA * ra[b]);
                double ai = -(gainA * ia[b]);
                double br = 0;
                double bi = 0;
                if (pair)
                {
                    double gainB = gainsB[cellOf[b]];
                    br = -(gainB * rb[b]);
                    bi = -(gainB * ib[b]);
                }

                wr[at[b]] = ar - bi;
                wi[at[b]] = ai + br;
                int mirror = mirrorAt[b];
                if (mirror >= 0)
                {
                    wr[mirror] = ar + bi;
                    wi[mirror] = br - ai;
                }
            }
        }
    }

    // Frame t's windowed samples, x[(t-1)H + i] * win[i] (0 outside the clip), each at its bit-reversed place rev(i);
    // x holds the clip's samples from origin on.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Load(ReadOnlySpan<double> x, long origin, long clipLength, long frame, Span<double> destination)
    {
        long start = (frame - 1) * Hop;
        int l = FrameLength;
        int from = (int)Math.Clamp(-start, 0, l);
        int to = (int)Math.Clamp(clipLength - start, from, l);
        CheckCovered(x.Length, origin, start, from, to);
        if (from > 0 || to < l)
        {
            destination.Clear();
        }

        fixed (double* samples = x, window = _window, output = destination)
        fixed (int* reversed = _fft.BitReversed)
        {
            double* frameSamples = samples + (start - origin);
            for (int i = from; i < to; i++)
            {
                output[reversed[i]] = frameSamples[i] * window[i];
            }
        }
    }

    // p[(t-1)H + i] += win[i] * (q[i] * (1/L)) over the samples inside the clip: the inverse transform's scaling, then
    // the window, exactly as the spec orders them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Add(ReadOnlySpan<double> q, double scale, long origin, long clipLength, long frame, Span<double> perturbation)
    {
        long start = (frame - 1) * Hop;
        int l = FrameLength;
        int from = (int)Math.Clamp(-start, 0, l);
        int to = (int)Math.Clamp(clipLength - start, from, l);
        CheckCovered(perturbation.Length, origin, start, from, to);
        fixed (double* samples = perturbation, window = _window, values = q)
        {
            double* p = samples + (start - origin);
            int i = from;
            if (Vector512.IsHardwareAccelerated)
            {
                var factor = Vector512.Create(scale);
                for (; i <= to - Vector512<double>.Count; i += Vector512<double>.Count)
                {
                    (Vector512.Load(p + i) + (Vector512.Load(window + i) * (Vector512.Load(values + i) * factor))).Store(p + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var factor = Vector256.Create(scale);
                for (; i <= to - Vector256<double>.Count; i += Vector256<double>.Count)
                {
                    (Vector256.Load(p + i) + (Vector256.Load(window + i) * (Vector256.Load(values + i) * factor))).Store(p + i);
                }
            }

            for (; i < to; i++)
            {
                p[i] += window[i] * (values[i] * scale);
            }
        }
    }

    // The two real frames' spectra out of the paired transform Z (bins 0..L/2): the real-part frame is
    // X[k] = (Z[k] + conj Z[L-k]) / 2, the imaginary-part frame (Z[k] - conj Z[L-k]) / 2i. Stores their coded bins,
    // adds their cell energies, and returns their energies (the second 0 when there is no second frame). The
    // per-bin values are computed several bins at a time into scratch; the sums then run bin by bin, k ascending.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe (double First, double Second) Split(
        ReadOnlySpan<double> re, ReadOnlySpan<double> im, int f, bool pair, double[] codedRe, double[] codedIm, Span<double> cells, double[] scratch)
    {
        int l = FrameLength;
        int half = l / 2;
        int bins = half + 1;
        double energyA = 0;
        double energyB = 0;
        fixed (double* zr = re, zi = im, ar = scratch, gains = cells, outRe = codedRe, outIm = codedIm)
        fixed (int* codedBins = _codedBins, codedCell = _codedCell)
        {
            double* ai = ar + bins;
            double* br = ai + bins;
            double* bi = br + bins;
            double* weightedA = bi + bins;
            double* weightedB = weightedA + bins;

            // k = 0 and k = L/2 (each its own mirror, weight 1); bins 1..L/2-1 (mirror L-k, weight 2), a vector at a
            // time where they fill one: the mirrors L-k down to L-k-3 are loaded as one vector and reversed.
            SplitBin(zr, zi, 0, 0, 1.0, ar, bins);
            SplitBin(zr, zi, half, half, 1.0, ar, bins);
            int k = 1;
            if (Vector256.IsHardwareAccelerated)
            {
                var halfFactor = Vector256.Create(0.5);
                var two = Vector256.Create(2.0);
                var reverse = Vector256.Create(3L, 2, 1, 0);
                for (; k + Vector256<double>.Count <= half; k += Vector256<double>.Count)
                {
                    int m = l - k - (Vector256<double>.Count - 1);
                    Vector256<double> rk = Vector256.Load(zr + k);
                    Vector256<double> ik = Vector256.Load(zi + k);
                    Vector256<double> rm = Vector256.Shuffle(Vector256.Load(zr + m), reverse);
                    Vector256<double> imm = Vector256.Shuffle(Vector256.Load(zi + m), reverse);
                    Vector256<double> xr = halfFactor * (rk + rm);
                    Vector256<double> xi = halfFactor * (ik - imm);
                    Vector256<double> yr = halfFactor * (ik + imm);
                    Vector256<double> yi = halfFactor * (rm - rk);
                    xr.Store(ar + k);
                    xi.Store(ai + k);
                    yr.Store(br + k);
                    yi.Store(bi + k);
                    (two * ((xr * xr) + (xi * xi))).Store(weightedA + k);
                    (two * ((yr * yr) + (yi * yi))).Store(weightedB + k);
                }
            }

            for (; k < half; k++)
            {
                SplitBin(zr, zi, k, l - k, 2.0, ar, bins);
            }

            (energyA, energyB) = SumAscending(weightedA, weightedB, bins);

            int c = _codedBins.Length;
            int w = CodeLength;
            double* cellsA = gains + (f * w);
            double* cellsB = cellsA + w;
            double* reA = outRe + (f * c);
            double* imA = outIm + (f * c);
            double* reB = reA + c;
            double* imB = imA + c;
            for (int b = 0; b < c; b++)
            {
                int bin = codedBins[b];
                cellsA[codedCell[b]] += weightedA[bin];
                reA[b] = ar[bin];
                imA[b] = ai[bin];
                if (pair)
                {
                    cellsB[codedCell[b]] += weightedB[bin];
                    reB[b] = br[bin];
                    imB[b] = bi[bin];
                }
            }
        }

        return (energyA, pair ? energyB : 0);
    }

    // sum a[0..count) and sum b[0..count), each added in ascending order from 0 (the spec's order). A method of its
    // own so that the two running sums stay in registers.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe (double A, double B) SumAscending(double* a, double* b, int count)
    {
        double sumA = 0;
        double sumB = 0;
        for (int i = 0; i < count; i++)
        {
            sumA += a[i];
            sumB += b[i];
        }

        return (sumA, sumB);
    }

    // One bin k (mirror m) of Split, into the scratch rows ar, ai, br, bi, weightedA, weightedB (each "bins" long).
    private static unsafe void SplitBin(double* re, double* im, int k, int m, double weight, double* ar, int bins)
    {
        double xr = 0.5 * (re[k] + re[m]);
        double xi = 0.5 * (im[k] - im[m]);
        double yr = 0.5 * (im[k] + im[m]);
        double yi = 0.5 * (re[m] - re[k]);
        ar[k] = xr;
        ar[bins + k] = xi;
        ar[(2 * bins) + k] = yr;
        ar[(3 * bins) + k] = yi;
        ar[(4 * bins) + k] = weight == 1.0 ? (xr * xr) + (xi * xi) : weight * ((xr * xr) + (xi * xi));
        ar[(5 * bins) + k] = weight == 1.0 ? (yr * yr) + (yi * yi) : weight * ((yr * yr) + (yi * yi));
    }
}
