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

        for (int i = 0; i < n; i++)
        {
            int j = _bitReversed[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }

        double sign = inverse ? 1.0 : -1.0;
        for (int size = 2; size <= n; size *= 2)
        {
            int half = size / 2;
            int step = n / size;
            for (int start = 0; start < n; start += size)
            {
                for (int j = 0; j < half; j++)
                {
                    double wr = _cos[j * step];
                    double wi = sign * _sin[j * step];
                    int a = start + j;
                    int b = a + half;
                    double tr = (wr * re[b]) - (wi * im[b]);
                    double ti = (wr * im[b]) + (wi * re[b]);
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] = re[a] + tr;
                    im[a] = im[a] + ti;
                }
            }
        }

        if (inverse)
        {
            double scale = 1.0 / n;
            for (int i = 0; i < n; i++)
            {
                re[i] *= scale;
                im[i] *= scale;
            }
        }
    }
}
