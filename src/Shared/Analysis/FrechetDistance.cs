using MathNet.Numerics.LinearAlgebra;

namespace PosCuda.Shared.Analysis;

/// <summary>The Fréchet distance between two Gaussians fitted to sets of vectors (the statistic FID and FAD use).</summary>
public static class FrechetDistance
{
    /// <summary>
    /// <c>|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr(sqrt(sqrt(C1) C2 sqrt(C1)))</c>: the squared 2-Wasserstein distance
    /// between N(m1, C1) and N(m2, C2).
    /// </summary>
    /// <remarks>
    /// Both square roots come from symmetric eigendecompositions (MathNet.Numerics), with eigenvalues below zero
    /// (rounding on a positive semi-definite matrix) taken as zero, so the result is real; a tiny negative result is
    /// returned as 0. Covariances are row-major d x d.
    /// </remarks>
    public static double Compute(ReadOnlySpan<double> mean1, ReadOnlySpan<double> covariance1, ReadOnlySpan<double> mean2, ReadOnlySpan<double> covariance2)
    {
        int d = mean1.Length;
        ArgumentOutOfRangeException.ThrowIfNotEqual(mean2.Length, d);
        ArgumentOutOfRangeException.ThrowIfNotEqual(covariance1.Length, d * d);
        ArgumentOutOfRangeException.ThrowIfNotEqual(covariance2.Length, d * d);
        double meanTerm = 0;
        for (int i = 0; i < d; i++)
        {
            double diff = mean1[i] - mean2[i];
            meanTerm += diff * diff;
        }

        Matrix<double> c1 = ToMatrix(covariance1, d);
        Matrix<double> c2 = ToMatrix(covariance2, d);
        Matrix<double> root1 = SymmetricSqrt(c1);
        Matrix<double> inner = root1 * c2 * root1;
        inner = (inner + inner.Transpose()) / 2;
        double crossTrace = SymmetricSqrt(inner).Trace();
        double distance = meanTerm + c1.Trace() + c2.Trace() - (2 * crossTrace);
        return Math.Max(0, distance);
    }

    /// <summary>The distance between the Gaussians of two <see cref="RunningMoments"/>.</summary>
    public static double Compute(RunningMoments first, RunningMoments second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return Compute(first.Mean(), first.Covariance(), second.Mean(), second.Covariance());
    }

    private static Matrix<double> ToMatrix(ReadOnlySpan<double> values, int d)
    {
        Matrix<double> m = Matrix<double>.Build.Dense(d, d);
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                // Symmetrise: the inputs are covariances, rounding may leave them a hair off.
                m[i, j] = (values[(i * d) + j] + values[(j * d) + i]) / 2;
            }
        }

        return m;
    }

    private static Matrix<double> SymmetricSqrt(Matrix<double> symmetric)
    {
        var evd = symmetric.Evd(Symmetricity.Symmetric);
        Vector<double> roots = evd.EigenValues.Real().Map(v => Math.Sqrt(Math.Max(0, v)));
        Matrix<double> vectors = evd.EigenVectors;
        return vectors * Matrix<double>.Build.DenseOfDiagonalVector(roots) * vectors.Transpose();
    }
}
