using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PosCuda.Shared.Protection;

/// <summary>
/// The discrete Fourier transform that <c>poscuda-v2</c> names: an iterative radix-2 decimation-in-time FFT whose
/// operations are spelled out in docs/spec.md, so that an independent implementation doing the same operations in
/// the same order gets bit-identical results (any other DFT agrees within rounding, well inside 1 LSB).
/// </summary>
/// <remarks>
/// Twiddles are <c>cos(2 pi j / L)</c> and <c>sin(2 pi j / L)</c> computed directly (no recurrence). Multiplies and
/// adds are separate (the JIT does not contract them into fused multiply-adds), so results do not depend on the
/// hardware. One instance per length; it holds only read-only tables and is safe to share between threads.
/// </remarks>
public sealed class Radix2Fft
{
    private readonly double[] _stageCos;        // per stage (size 2, 4, ..., L): cos[j * step] for j = 0..half-1, contiguous
    private readonly double[] _stageSinForward; // the same for -sin (the forward transform's wi = -1 * sin, exactly)
    private readonly double[] _stageSinInverse; // and +sin (the inverse's wi = +1 * sin)
    private readonly int[] _bitReversed;

    /// <summary>Prepares the tables of a transform of <paramref name="length"/> points (a power of two, at least 2).</summary>
    public Radix2Fft(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        if (!int.IsPow2(length))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "The FFT length must be a power of two.");
        }

        Length = length;
        double[] cos = new double[length / 2];
        double[] sin = new double[length / 2];
        for (int j = 0; j < length / 2; j++)
        {
            double angle = 2.0 * Math.PI * j / length;
            cos[j] = Math.Cos(angle);
            sin[j] = Math.Sin(angle);
        }

        // The same table values laid out stage by stage, so that a stage reads its twiddles contiguously (and several
        // at a time): stage "size" starts at offset size/2 - 1.
        _stageCos = new double[length - 1];
        _stageSinForward = new double[length - 1];
        _stageSinInverse = new double[length - 1];
        for (int size = 2; size <= length; size *= 2)
        {
            int step = length / size;
            for (int j = 0; j < size / 2; j++)
            {
                _stageCos[(size / 2) - 1 + j] = cos[j * step];
                _stageSinForward[(size / 2) - 1 + j] = -1.0 * sin[j * step];
                _stageSinInverse[(size / 2) - 1 + j] = 1.0 * sin[j * step];
            }
        }

        int bits = int.Log2(length);
        _bitReversed = new int[length];
        for (int i = 0; i < length; i++)
        {
            int r = 0;
            for (int b = 0; b < bits; b++)
            {
                r |= ((i >> b) & 1) << (bits - 1 - b);
            }

            _bitReversed[i] = r;
        }
    }

    /// <summary>L, the number of points.</summary>
    public int Length { get; }

    /// <summary>The bit-reversal permutation: where <see cref="TransformPermuted"/> expects input point i.</summary>
    internal ReadOnlySpan<int> BitReversed => _bitReversed;

    /// <summary>
    /// Transforms <paramref name="re"/> + i <paramref name="im"/> in place: <c>X[k] = sum x[n] e^(-2 pi i k n / L)</c>,
    /// or, when <paramref name="inverse"/>, <c>x[n] = (1/L) sum X[k] e^(+2 pi i k n / L)</c>.
    /// </summary>
    public void Transform(Span<double> re, Span<double> im, bool inverse)
    {
        int n = Length;
        if (re.Length != n || im.Length != n)
        {
            throw new ArgumentException($"Both parts must hold exactly {n} values.");
        }

        for (int k = 0; k < n; k++)
        {
            int j = _bitReversed[k];
            if (j > k)
            {
                (re[k], re[j]) = (re[j], re[k]);
                (im[k], im[j]) = (im[j], im[k]);
            }
        }

        TransformPermuted(re, im, inverse);
        if (inverse)
        {
            double scale = 1.0 / n;
            for (int k = 0; k < n; k++)
            {
                re[k] *= scale;
                im[k] *= scale;
            }
        }
    }

    /// <summary>
    /// <see cref="Transform"/>'s butterflies alone: the input already in bit-reversed order (point i at
    /// <c>BitReversed[i]</c>), the output in natural order, and the inverse not yet multiplied by <c>1/L</c>.
    /// </summary>
    /// <remarks>For callers that load their input permuted and fold the <c>1/L</c> into what they do next.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void TransformPermuted(Span<double> re, Span<double> im, bool inverse)
    {
        int n = Length;
        if (re.Length != n || im.Length != n)
        {
            throw new ArgumentException($"Both parts must hold exactly {n} values.");
        }

        unsafe
        {
            fixed (double* r = re, i = im, cos = _stageCos, sin = inverse ? _stageSinInverse : _stageSinForward)
            {
                Butterflies(r, i, cos, sin, n);
            }
        }
    }

    // The spec's butterflies, stage by stage: every butterfly does exactly the listing's multiplies, adds and
    // subtracts on the same values (never fused), so the results are bit-identical to the scalar loop whatever the
    // grouping. Pointers spare the bounds checks; with SIMD, the first stages run inside registers (sixteen points
    // with AVX-512, four with AVX2), and the later ones two stages per pass over memory, eight or four butterflies
    // per instruction.
    // sin is the stage table already multiplied by the direction's sign.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Butterflies(double* re, double* im, double* cos, double* sin, int n)
    {
        int size = 2;
        bool wide512 = Vector512.IsHardwareAccelerated;
        bool wide256 = Vector256.IsHardwareAccelerated;
        if (wide512 && Avx512F.IsSupported && n >= 16)
        {
            FirstFourStages512(re, im, cos, sin, n);
            size = 32;
        }
        else if (wide256 && n >= 4)
        {
            FirstStages256(re, im, cos, sin, n);
            size = 8;
        }

        while (size <= n)
        {
            int half = size / 2;
            if (wide512 && half >= 8)
            {
                if (2 * size <= n)
                {
                    TwoStages512(re, im, cos, sin, n, size);
                    size *= 4;
                }
                else
                {
                    Stage512(re, im, cos, sin, n, size);
                    size *= 2;
                }
            }
            else if (wide256 && half >= 4)
            {
                if (2 * size <= n)
                {
                    TwoStages256(re, im, cos, sin, n, size);
                    size *= 4;
                }
                else
                {
                    Stage256(re, im, cos, sin, n, size);
                    size *= 2;
                }
            }
            else
            {
                StageScalar(re, im, cos, sin, n, size);
                size *= 2;
            }
        }
    }

    private static unsafe void StageScalar(double* re, double* im, double* cos, double* sin, int n, int size)
    {
        int half = size / 2;
        double* stageCos = cos + half - 1;
        double* stageSin = sin + half - 1;
        for (int start = 0; start < n; start += size)
        {
            double* ra = re + start;
            double* ia = im + start;
            double* rb = ra + half;
            double* ib = ia + half;
            for (int j = 0; j < half; j++)
            {
                double wr = stageCos[j];
                double wi = stageSin[j];
                double tr = (wr * rb[j]) - (wi * ib[j]);
                double ti = (wr * ib[j]) + (wi * rb[j]);
                rb[j] = ra[j] - tr;
                ib[j] = ia[j] - ti;
                ra[j] = ra[j] + tr;
                ia[j] = ia[j] + ti;
            }
        }
    }

    // Stages 2, 4, 8 and 16 on each block of sixteen points, in registers. Before each stage, two-source permutes
    // gather every butterfly's a input into one vector and its b input into another (eight butterflies per vector,
    // lane by lane, with that butterfly's twiddle), and the stage leaves a + t and a - t in two vectors; after the
    // fourth stage those two are the block's points 0-7 and 8-15 in order. (The lane bookkeeping: after stage 1 the
    // vectors hold points [0 2 4 .. 14] and [1 3 .. 15]; the even and odd lanes of the pair are the next stage's
    // a and b, whose twiddles run 0 0 0 0 1 1 1 1, then 0 0 1 1 2 2 3 3, then 0 1 2 .. 7.)
    private static unsafe void FirstFourStages512(double* re, double* im, double* cos, double* sin, int n)
    {
        Vector512<long> even = Vector512.Create(0L, 2, 4, 6, 8, 10, 12, 14);
        Vector512<long> odd = Vector512.Create(1L, 3, 5, 7, 9, 11, 13, 15);

        // Stage 2 uses twiddle 0 of its table (offset 0), stage 4 twiddles 0-1 (offset 1), stage 8 twiddles 0-3
        // (offset 3), stage 16 twiddles 0-7 (offset 7).
        Vector512<double> wr1 = Vector512.Create(cos[0]);
        Vector512<double> wi1 = Vector512.Create(sin[0]);
        Vector512<double> wr2 = Vector512.Create(Vector256.Create(cos[1]), Vector256.Create(cos[2]));
        Vector512<double> wi2 = Vector512.Create(Vector256.Create(sin[1]), Vector256.Create(sin[2]));
        Vector512<double> wr3 = Vector512.Create(cos[3], cos[3], cos[4], cos[4], cos[5], cos[5], cos[6], cos[6]);
        Vector512<double> wi3 = Vector512.Create(sin[3], sin[3], sin[4], sin[4], sin[5], sin[5], sin[6], sin[6]);
        Vector512<double> wr4 = Vector512.Load(cos + 7);
        Vector512<double> wi4 = Vector512.Load(sin + 7);
        for (int start = 0; start < n; start += 16)
        {
            Vector512<double> sr = Vector512.Load(re + start);
            Vector512<double> si = Vector512.Load(im + start);
            Vector512<double> dr = Vector512.Load(re + start + 8);
            Vector512<double> di = Vector512.Load(im + start + 8);
            (sr, si, dr, di) = PairedStage(sr, si, dr, di, even, odd, wr1, wi1);
            (sr, si, dr, di) = PairedStage(sr, si, dr, di, even, odd, wr2, wi2);
            (sr, si, dr, di) = PairedStage(sr, si, dr, di, even, odd, wr3, wi3);
            (sr, si, dr, di) = PairedStage(sr, si, dr, di, even, odd, wr4, wi4);
            sr.Store(re + start);
            si.Store(im + start);
            dr.Store(re + start + 8);
            di.Store(im + start + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<double> Sr, Vector512<double> Si, Vector512<double> Dr, Vector512<double> Di) PairedStage(
        Vector512<double> sr, Vector512<double> si, Vector512<double> dr, Vector512<double> di,
        Vector512<long> even, Vector512<long> odd, Vector512<double> wr, Vector512<double> wi)
    {
        Vector512<double> ar = Avx512F.PermuteVar8x64x2(sr, even, dr);
        Vector512<double> ai = Avx512F.PermuteVar8x64x2(si, even, di);
        Vector512<double> br = Avx512F.PermuteVar8x64x2(sr, odd, dr);
        Vector512<double> bi = Avx512F.PermuteVar8x64x2(si, odd, di);
        return Butterfly(ar, ai, br, bi, wr, wi);
    }

    private static unsafe void FirstStages256(double* re, double* im, double* cos, double* sin, int n)
    {
        Vector256<long> a1 = Vector256.Create(0L, 0, 2, 2);
        Vector256<long> b1 = Vector256.Create(1L, 1, 3, 3);
        Vector256<double> keep1 = Vector256.Create(-1L, 0, -1, 0).AsDouble();
        Vector256<long> a2 = Vector256.Create(0L, 1, 0, 1);
        Vector256<long> b2 = Vector256.Create(2L, 3, 2, 3);
        Vector256<double> keep2 = Vector256.Create(-1L, -1, 0, 0).AsDouble();
        Vector256<double> wr1 = Vector256.Create(cos[0]);
        Vector256<double> wi1 = Vector256.Create(sin[0]);
        Vector256<double> wr2 = Vector256.Create(cos[1], cos[2], cos[1], cos[2]);
        Vector256<double> wi2 = Vector256.Create(sin[1], sin[2], sin[1], sin[2]);
        for (int start = 0; start < n; start += 4)
        {
            Vector256<double> r = Vector256.Load(re + start);
            Vector256<double> i = Vector256.Load(im + start);
            (r, i) = InRegister(r, i, a1, b1, keep1, wr1, wi1);
            (r, i) = InRegister(r, i, a2, b2, keep2, wr2, wi2);
            r.Store(re + start);
            i.Store(im + start);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Re, Vector256<double> Im) InRegister(
        Vector256<double> r, Vector256<double> i, Vector256<long> aLanes, Vector256<long> bLanes, Vector256<double> keepSum,
        Vector256<double> wr, Vector256<double> wi)
    {
        Vector256<double> ar = Vector256.Shuffle(r, aLanes);
        Vector256<double> ai = Vector256.Shuffle(i, aLanes);
        Vector256<double> br = Vector256.Shuffle(r, bLanes);
        Vector256<double> bi = Vector256.Shuffle(i, bLanes);
        Vector256<double> tr = (wr * br) - (wi * bi);
        Vector256<double> ti = (wr * bi) + (wi * br);
        return (Vector256.ConditionalSelect(keepSum, ar + tr, ar - tr), Vector256.ConditionalSelect(keepSum, ai + ti, ai - ti));
    }

    private static unsafe void Stage512(double* re, double* im, double* cos, double* sin, int n, int size)
    {
        int half = size / 2;
        double* stageCos = cos + half - 1;
        double* stageSin = sin + half - 1;
        for (int start = 0; start < n; start += size)
        {
            for (int j = 0; j < half; j += Vector512<double>.Count)
            {
                Butterfly(re + start + j, im + start + j, half, Vector512.Load(stageCos + j), Vector512.Load(stageSin + j));
            }
        }
    }

    // Stage size, then stage 2*size, over each block of 2*size points while its values are in registers: the first
    // stage's butterflies (a, b) and (c, d) share twiddle j, the second's (a, c) and (b, d) take twiddles j and j+half.
    private static unsafe void TwoStages512(double* re, double* im, double* cos, double* sin, int n, int size)
    {
        int half = size / 2;
        double* firstCos = cos + half - 1;
        double* firstSin = sin + half - 1;
        double* secondCos = cos + size - 1;
        double* secondSin = sin + size - 1;
        for (int start = 0; start < n; start += 2 * size)
        {
            double* r = re + start;
            double* i = im + start;
            for (int j = 0; j < half; j += Vector512<double>.Count)
            {
                Vector512<double> ar = Vector512.Load(r + j), ai = Vector512.Load(i + j);
                Vector512<double> br = Vector512.Load(r + half + j), bi = Vector512.Load(i + half + j);
                Vector512<double> cr = Vector512.Load(r + size + j), ci = Vector512.Load(i + size + j);
                Vector512<double> dr = Vector512.Load(r + size + half + j), di = Vector512.Load(i + size + half + j);
                Vector512<double> wr = Vector512.Load(firstCos + j), wi = Vector512.Load(firstSin + j);
                (ar, ai, br, bi) = Butterfly(ar, ai, br, bi, wr, wi);
                (cr, ci, dr, di) = Butterfly(cr, ci, dr, di, wr, wi);
                (ar, ai, cr, ci) = Butterfly(ar, ai, cr, ci, Vector512.Load(secondCos + j), Vector512.Load(secondSin + j));
                (br, bi, dr, di) = Butterfly(br, bi, dr, di, Vector512.Load(secondCos + half + j), Vector512.Load(secondSin + half + j));
                ar.Store(r + j);
                ai.Store(i + j);
                br.Store(r + half + j);
                bi.Store(i + half + j);
                cr.Store(r + size + j);
                ci.Store(i + size + j);
                dr.Store(r + size + half + j);
                di.Store(i + size + half + j);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Butterfly(double* r, double* i, int half, Vector512<double> wr, Vector512<double> wi)
    {
        (Vector512<double> ar, Vector512<double> ai, Vector512<double> br, Vector512<double> bi) =
            Butterfly(Vector512.Load(r), Vector512.Load(i), Vector512.Load(r + half), Vector512.Load(i + half), wr, wi);
        ar.Store(r);
        ai.Store(i);
        br.Store(r + half);
        bi.Store(i + half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<double> Ar, Vector512<double> Ai, Vector512<double> Br, Vector512<double> Bi) Butterfly(
        Vector512<double> ar, Vector512<double> ai, Vector512<double> br, Vector512<double> bi, Vector512<double> wr, Vector512<double> wi)
    {
        Vector512<double> tr = (wr * br) - (wi * bi);
        Vector512<double> ti = (wr * bi) + (wi * br);
        return (ar + tr, ai + ti, ar - tr, ai - ti);
    }

    private static unsafe void Stage256(double* re, double* im, double* cos, double* sin, int n, int size)
    {
        int half = size / 2;
        double* stageCos = cos + half - 1;
        double* stageSin = sin + half - 1;
        for (int start = 0; start < n; start += size)
        {
            for (int j = 0; j < half; j += Vector256<double>.Count)
            {
                Butterfly(re + start + j, im + start + j, half, Vector256.Load(stageCos + j), Vector256.Load(stageSin + j));
            }
        }
    }

    private static unsafe void TwoStages256(double* re, double* im, double* cos, double* sin, int n, int size)
    {
        int half = size / 2;
        double* firstCos = cos + half - 1;
        double* firstSin = sin + half - 1;
        double* secondCos = cos + size - 1;
        double* secondSin = sin + size - 1;
        for (int start = 0; start < n; start += 2 * size)
        {
            double* r = re + start;
            double* i = im + start;
            for (int j = 0; j < half; j += Vector256<double>.Count)
            {
                Vector256<double> ar = Vector256.Load(r + j), ai = Vector256.Load(i + j);
                Vector256<double> br = Vector256.Load(r + half + j), bi = Vector256.Load(i + half + j);
                Vector256<double> cr = Vector256.Load(r + size + j), ci = Vector256.Load(i + size + j);
                Vector256<double> dr = Vector256.Load(r + size + half + j), di = Vector256.Load(i + size + half + j);
                Vector256<double> wr = Vector256.Load(firstCos + j), wi = Vector256.Load(firstSin + j);
                (ar, ai, br, bi) = Butterfly(ar, ai, br, bi, wr, wi);
                (cr, ci, dr, di) = Butterfly(cr, ci, dr, di, wr, wi);
                (ar, ai, cr, ci) = Butterfly(ar, ai, cr, ci, Vector256.Load(secondCos + j), Vector256.Load(secondSin + j));
                (br, bi, dr, di) = Butterfly(br, bi, dr, di, Vector256.Load(secondCos + half + j), Vector256.Load(secondSin + half + j));
                ar.Store(r + j);
                ai.Store(i + j);
                br.Store(r + half + j);
                bi.Store(i + half + j);
                cr.Store(r + size + j);
                ci.Store(i + size + j);
                dr.Store(r + size + half + j);
                di.Store(i + size + half + j);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Butterfly(double* r, double* i, int half, Vector256<double> wr, Vector256<double> wi)
    {
        (Vector256<double> ar, Vector256<double> ai, Vector256<double> br, Vector256<double> bi) =
            Butterfly(Vector256.Load(r), Vector256.Load(i), Vector256.Load(r + half), Vector256.Load(i + half), wr, wi);
        ar.Store(r);
        ai.Store(i);
        br.Store(r + half);
        bi.Store(i + half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Ar, Vector256<double> Ai, Vector256<double> Br, Vector256<double> Bi) Butterfly(
        Vector256<double> ar, Vector256<double> ai, Vector256<double> br, Vector256<double> bi, Vector256<double> wr, Vector256<double> wi)
    {
        Vector256<double> tr = (wr * br) - (wi * bi);
        Vector256<double> ti = (wr * bi) + (wi * br);
        return (ar + tr, ai + ti, ar - tr, ai - ti);
    }
}
