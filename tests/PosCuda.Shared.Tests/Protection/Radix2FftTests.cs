using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>
/// <see cref="Radix2Fft"/> against the spec's listing (docs/spec.md, "The reference DFT") written out plainly here:
/// bit for bit, whatever SIMD width and stage grouping the machine gets.
/// </summary>
public sealed class Radix2FftTests
{
    public static TheoryData<int, bool> Lengths()
    {
        var data = new TheoryData<int, bool>();
        for (int length = 2; length <= 4096; length *= 2)
        {
            data.Add(length, false);
            data.Add(length, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Transform_RandomAndSpecialValues_BitIdenticalToTheSpecListing(int length, bool inverse)
    {
        var random = new Random((length * 2) + (inverse ? 1 : 0));
        var fft = new Radix2Fft(length);
        for (int round = 0; round < 4; round++)
        {
            (double[] re, double[] im) = Signal(random, length, special: round == 3);
            double[] expectedRe = (double[])re.Clone();
            double[] expectedIm = (double[])im.Clone();
            SpecListing(expectedRe, expectedIm, inverse);

            fft.Transform(re, im, inverse);

            AssertBitIdentical(expectedRe, re);
            AssertBitIdentical(expectedIm, im);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TransformPermuted_InputInBitReversedOrder_IsTheTransformBeforeItsScale(int length, bool inverse)
    {
        var random = new Random(length);
        var fft = new Radix2Fft(length);
        (double[] re, double[] im) = Signal(random, length, special: false);
        double[] expectedRe = (double[])re.Clone();
        double[] expectedIm = (double[])im.Clone();
        SpecListing(expectedRe, expectedIm, inverse, scale: false);
        double[] permutedRe = new double[length];
        double[] permutedIm = new double[length];
        for (int i = 0; i < length; i++)
        {
            permutedRe[fft.BitReversed[i]] = re[i];
            permutedIm[fft.BitReversed[i]] = im[i];
        }

        fft.TransformPermuted(permutedRe, permutedIm, inverse);

        AssertBitIdentical(expectedRe, permutedRe);
        AssertBitIdentical(expectedIm, permutedIm);
    }

    // Mostly noise at different scales; with special, also zeros of both signs, infinities, NaN and subnormals.
    private static (double[] Re, double[] Im) Signal(Random random, int length, bool special)
    {
        double[] specials = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, double.Epsilon, -1e-310, 1e300];
        double[] re = new double[length];
        double[] im = new double[length];
        for (int i = 0; i < length; i++)
        {
            re[i] = special && random.Next(8) == 0 ? specials[random.Next(specials.Length)] : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4));
            im[i] = special && random.Next(8) == 0 ? specials[random.Next(specials.Length)] : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4));
        }

        return (re, im);
    }

    // docs/spec.md, "The reference DFT", operation for operation.
    private static void SpecListing(double[] re, double[] im, bool inverse, bool scale = true)
    {
        int n = re.Length;
        int bits = int.Log2(n);
        for (int i = 0; i < n; i++)
        {
            int r = 0;
            for (int b = 0; b < bits; b++)
            {
                r |= ((i >> b) & 1) << (bits - 1 - b);
            }

            if (r > i)
            {
                (re[i], re[r]) = (re[r], re[i]);
                (im[i], im[r]) = (im[r], im[i]);
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
                    double wr = Math.Cos(2.0 * Math.PI * (j * step) / n);
                    double wi = sign * Math.Sin(2.0 * Math.PI * (j * step) / n);
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

        if (inverse && scale)
        {
            for (int k = 0; k < n; k++)
            {
                re[k] *= 1.0 / n;
                im[k] *= 1.0 / n;
            }
        }
    }

    private static void AssertBitIdentical(double[] expected, double[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i])
                || (double.IsNaN(expected[i]) && double.IsNaN(actual[i]));
            Assert.True(same, $"point {i}: {actual[i]:R}, the listing gives {expected[i]:R}");
        }
    }
}
