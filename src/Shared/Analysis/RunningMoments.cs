namespace PosCuda.Shared.Analysis;

/// <summary>The running mean and covariance of a stream of vectors, in O(d^2) memory whatever the stream's length.</summary>
/// <remarks>
/// Keeps the count, the sum and the sum of outer products of <c>x - shift</c>, where the shift is the first vector
/// seen: shifting keeps the sums small, so the covariance does not lose its digits to cancellation. Two accumulators
/// of the same dimension can be merged. Not thread-safe.
/// </remarks>
public sealed class RunningMoments
{
    private readonly double[] _shift;
    private readonly double[] _sum;
    private readonly double[] _outer;
    private readonly double[] _centred;

    /// <summary>Creates an accumulator of <paramref name="dimension"/>-vectors.</summary>
    public RunningMoments(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Dimension = dimension;
        _shift = new double[dimension];
        _sum = new double[dimension];
        _outer = new double[dimension * dimension];
        _centred = new double[dimension];
    }

    /// <summary>The vectors' dimension.</summary>
    public int Dimension { get; }

    /// <summary>Vectors added.</summary>
    public long Count { get; private set; }

    /// <summary>Adds one vector.</summary>
    public void Add(ReadOnlySpan<double> vector)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(vector.Length, Dimension);
        if (Count == 0)
        {
            vector.CopyTo(_shift);
        }

        int d = Dimension;
        for (int i = 0; i < d; i++)
        {
            _centred[i] = vector[i] - _shift[i];
            _sum[i] += _centred[i];
        }

        // Upper triangle only; Covariance() mirrors it.
        for (int i = 0; i < d; i++)
        {
            double ci = _centred[i];
            int row = i * d;
            for (int j = i; j < d; j++)
            {
                _outer[row + j] += ci * _centred[j];
            }
        }

        Count++;
    }

    /// <summary>Adds every row of a row-major matrix with <see cref="Dimension"/> columns.</summary>
    public void AddRows(ReadOnlySpan<double> rows)
    {
        for (int start = 0; start + Dimension <= rows.Length; start += Dimension)
        {
            Add(rows.Slice(start, Dimension));
        }
    }

    /// <summary>The mean vector.</summary>
    public double[] Mean()
    {
        var mean = new double[Dimension];
        for (int i = 0; i < Dimension; i++)
        {
            mean[i] = Count == 0 ? 0 : _shift[i] + (_sum[i] / Count);
        }

        return mean;
    }

    /// <summary>The covariance matrix (row-major, d x d), with the unbiased divisor n - 1 (0 when n &lt; 2).</summary>
    public double[] Covariance()
    {
        int d = Dimension;
        var covariance = new double[d * d];
        if (Count < 2)
        {
            return covariance;
        }

        for (int i = 0; i < d; i++)
        {
            for (int j = i; j < d; j++)
            {
                double value = (_outer[(i * d) + j] - (_sum[i] * _sum[j] / Count)) / (Count - 1);
                covariance[(i * d) + j] = value;
                covariance[(j * d) + i] = value;
            }
        }

        return covariance;
    }
}
