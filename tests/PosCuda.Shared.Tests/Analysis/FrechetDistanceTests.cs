using PosCuda.Shared.Analysis;

namespace PosCuda.Shared.Tests.Analysis;

public class FrechetDistanceTests
{
    private static RunningMoments Gaussian(int count, double[] mean, double[] sigma, int seed)
    {
        var random = new Random(seed);
        var moments = new RunningMoments(mean.Length);
        var v = new double[mean.Length];
        for (int n = 0; n < count; n++)
        {
            for (int i = 0; i < v.Length; i++)
            {
                double u1 = 1 - random.NextDouble();
                double u2 = random.NextDouble();
                v[i] = mean[i] + (sigma[i] * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }

            moments.Add(v);
        }

        return moments;
    }

    [Fact]
    public void Compute_IdenticalSets_IsZero()
    {
        RunningMoments a = Gaussian(2000, [0, 1, 2], [1, 2, 0.5], seed: 1);
        RunningMoments b = Gaussian(2000, [0, 1, 2], [1, 2, 0.5], seed: 1);
        Assert.Equal(0, FrechetDistance.Compute(a, b), 6);
    }

    [Fact]
    public void Compute_ShiftedSet_IsTheSquaredShift()
    {
        RunningMoments a = Gaussian(2000, [0, 1, 2], [1, 2, 0.5], seed: 1);
        RunningMoments b = Gaussian(2000, [3, 1, 6], [1, 2, 0.5], seed: 1);

        // Same draws shifted by (3, 0, 4): equal covariances, |shift|^2 = 25.
        Assert.Equal(25, FrechetDistance.Compute(a, b), 6);
    }

    [Fact]
    public void Compute_DiagonalGaussians_MatchesTheClosedForm()
    {
        double[] m1 = [0, 1, -1];
        double[] m2 = [1, 1, 1];
        double[] s1 = [1, 2, 3];
        double[] s2 = [2, 2, 1];
        double[] c1 = Diagonal(s1);
        double[] c2 = Diagonal(s2);

        // |m1 - m2|^2 + sum (s1 - s2)^2 = (1 + 0 + 4) + (1 + 0 + 4) = 10.
        Assert.Equal(10, FrechetDistance.Compute(m1, c1, m2, c2), 9);
    }

    [Fact]
    public void RunningMoments_MatchesTheTwoPassMeanAndCovariance()
    {
        double[][] rows = [[1, 2], [3, 5], [4, 4], [10, -2]];
        var moments = new RunningMoments(2);
        foreach (double[] row in rows)
        {
            moments.Add(row);
        }

        double[] mean = [rows.Average(r => r[0]), rows.Average(r => r[1])];
        double Cov(int i, int j) => rows.Sum(r => (r[i] - mean[i]) * (r[j] - mean[j])) / (rows.Length - 1);
        Assert.Equal(mean, moments.Mean());
        double[] covariance = moments.Covariance();
        Assert.Equal(Cov(0, 0), covariance[0], 9);
        Assert.Equal(Cov(0, 1), covariance[1], 9);
        Assert.Equal(Cov(1, 0), covariance[2], 9);
        Assert.Equal(Cov(1, 1), covariance[3], 9);
    }

    private static double[] Diagonal(double[] sigma)
    {
        var c = new double[sigma.Length * sigma.Length];
        for (int i = 0; i < sigma.Length; i++)
        {
            c[(i * sigma.Length) + i] = sigma[i] * sigma[i];
        }

        return c;
    }
}
