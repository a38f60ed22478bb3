using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

public sealed class PatchConvolutionTests
{
    private delegate void Kernel(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y);

    [Fact]
    public void Convolve_AllPathsOnRandomInputs_BitIdenticalToScalarLoop()
    {
        var random = new Random(20260101);
        Kernel[] kernels =
        [
            PatchConvolution.Convolve,
            PatchConvolution.ConvolveVector256,
            PatchConvolution.ConvolveVector128,
            (x, t, y) => PatchConvolution.ConvolveScalar(x, t, y, 0),
        ];

        int checkedOutputs = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            // Lengths 1..600 and k 1..200, with the small sizes (vector remainders) well covered.
            int length = trial < 64 ? trial + 1 : random.Next(1, 601);
            int k = trial % 5 == 0 ? random.Next(1, 9) : random.Next(1, 201);
            double[] x = RandomSamples(random, length + k - 1);
            double[] taps = RandomTaps(random, k);
            double[] expected = Reference(x, taps, length);

            foreach (Kernel kernel in kernels)
            {
                double[] y = new double[length];
                kernel(x, taps, y);
                for (int n = 0; n < length; n++)
                {
                    Assert.Equal(BitConverter.DoubleToInt64Bits(expected[n]), BitConverter.DoubleToInt64Bits(y[n]));
                }

                checkedOutputs += length;
            }
        }

        Assert.True(checkedOutputs > 100_000);
    }

    [Fact]
    public void Convolve_ImpulseInput_ReproducesTapsReversed()
    {
        double[] taps = [1, 2, 3, 4, 5];
        double[] x = new double[9 + 4];
        x[8] = 1;
        double[] y = new double[9];

        PatchConvolution.Convolve(x, taps, y);

        // y[n] = taps[8 - n] where 0 <= 8 - n < 5.
        Assert.Equal([0, 0, 0, 0, 5, 4, 3, 2, 1], y);
    }

    [Fact]
    public void Convolve_SumsInOrder_NotReassociated()
    {
        // 1e16 + 1 - 1e16 is 0 summed in order from j = 0, but 1 under a pairwise or reversed sum.
        double[] taps = [1e16, 1, -1e16, 0];
        double[] x = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        double[] y = new double[8];

        PatchConvolution.Convolve(x, taps, y);

        Assert.All(y, value => Assert.Equal(0.0, value));
    }

    [Fact]
    public void Convolve_WrongInputLength_Throws()
    {
        double[] taps = new double[3];

        Assert.Throws<ArgumentException>(() => PatchConvolution.Convolve(new double[10], taps, new double[10]));
        Assert.Throws<ArgumentException>(() => PatchConvolution.Convolve(new double[10], [], new double[10]));
    }

    private static double[] Reference(double[] x, double[] taps, int length)
    {
        double[] y = new double[length];
        for (int n = 0; n < length; n++)
        {
            double acc = 0;
            for (int j = 0; j < taps.Length; j++)
            {
                acc += taps[j] * x[n + j];
            }

            y[n] = acc;
        }

        return y;
    }

    private static double[] RandomSamples(Random random, int count)
    {
        double[] values = new double[count];
        for (int i = 0; i < count; i++)
        {
            // Mixed magnitudes and signs so the rounding of every add matters.
            values[i] = (random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-30, 4));
        }

        return values;
    }

    private static double[] RandomTaps(Random random, int count)
    {
        double[] taps = new double[count];
        for (int j = 0; j < count; j++)
        {
            taps[j] = (float)(random.NextDouble() * 0.01);
        }

        return taps;
    }
}
