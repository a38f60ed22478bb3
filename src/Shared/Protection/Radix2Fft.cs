using System.Runtime.Intrinsics;

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
    private readonly double[] _cos;
    private readonly double[] _sin;
    private readonly double[] _stageCos;     // per stage (size 2, 4, ..., L): cos[j * step] for j = 0..half-1, contiguous
    private readonly double[] _stageSin;
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
        _cos = new double[length / 2];
        _sin = new double[length / 2];
        for (int j = 0; j < length / 2; j++)
        {
            double angle = 2.0 * Math.PI * j / length;
            _cos[j] = Math.Cos(angle);
            _sin[j] = Math.Sin(angle);
        }

        // The same table values laid out stage by stage, so that a stage reads its twiddles contiguously (and four
        // at a time): stage "size" starts at offset size/2 - 1.
        _stageCos = new double[Math.Max(1, length - 1)];
        _stageSin = new double[Math.Max(1, length - 1)];
        for (int size = 2; size <= length; size *= 2)
        {
            int step = length / size;
            for (int j = 0; j < size / 2; j++)
            {
                _stageCos[(size / 2) - 1 + j] = _cos[j * step];
                _stageSin[(size / 2) - 1 + j] = _sin[j * step];
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

        unsafe
        {
            fixed (double* r = re, i = im, cos = _stageCos, sin = _stageSin)
            fixed (int* reversed = _bitReversed)
            {
                Butterflies(r, i, cos, sin, reversed, n, inverse ? 1.0 : -1.0);
            }
        }

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

    // The same operations, in the same order, as the spec's listing: pointers spare the bounds checks, and stages of
    // four or more butterflies per block run four butterflies per instruction (each lane does exactly the scalar
    // multiplies, adds and subtracts, never fused), so the results are bit-identical to the scalar loop.
    private static unsafe void Butterflies(double* re, double* im, double* cos, double* sin, int* reversed, int n, double sign)
    {
        for (int k = 0; k < n; k++)
        {
            int j = reversed[k];
            if (j > k)
            {
                (re[k], re[j]) = (re[j], re[k]);
                (im[k], im[j]) = (im[j], im[k]);
            }
        }

        var signs = Vector256.Create(sign);
        for (int size = 2; size <= n; size *= 2)
        {
            int half = size / 2;
            double* stageCos = cos + half - 1;
            double* stageSin = sin + half - 1;
            bool wide = Vector256.IsHardwareAccelerated && half >= Vector256<double>.Count;
            for (int start = 0; start < n; start += size)
            {
                double* ra = re + start;
                double* ia = im + start;
                double* rb = ra + half;
                double* ib = ia + half;
                if (wide)
                {
                    for (int j = 0; j < half; j += Vector256<double>.Count)
                    {
                        Vector256<double> wr = Vector256.Load(stageCos + j);
                        Vector256<double> wi = signs * Vector256.Load(stageSin + j);
                        Vector256<double> xr = Vector256.Load(rb + j);
                        Vector256<double> xi = Vector256.Load(ib + j);
                        Vector256<double> ar = Vector256.Load(ra + j);
                        Vector256<double> ai = Vector256.Load(ia + j);
                        Vector256<double> tr = (wr * xr) - (wi * xi);
                        Vector256<double> ti = (wr * xi) + (wi * xr);
                        (ar - tr).Store(rb + j);
                        (ai - ti).Store(ib + j);
                        (ar + tr).Store(ra + j);
                        (ai + ti).Store(ia + j);
                    }

                    continue;
                }

                for (int j = 0; j < half; j++)
                {
                    double wr = stageCos[j];
                    double wi = sign * stageSin[j];
                    double tr = (wr * rb[j]) - (wi * ib[j]);
                    double ti = (wr * ib[j]) + (wi * rb[j]);
                    rb[j] = ra[j] - tr;
                    ib[j] = ia[j] - ti;
                    ra[j] = ra[j] + tr;
                    ia[j] = ia[j] + ti;
                }
            }
        }
    }
}
