namespace PosCuda.Shared.Analysis;

/// <summary>Count, mean, standard deviation, range and approximate quantiles of a stream of numbers, in fixed memory.</summary>
/// <remarks>
/// Quantiles come from a fixed histogram (<see cref="BinWidth"/> wide bins between <see cref="Low"/> and
/// <see cref="High"/>, values outside fall into the end bins), so they are exact to a bin. Infinite and NaN values are
/// counted apart (<see cref="NonFinite"/>) and left out of every other figure. Not thread-safe.
/// </remarks>
public sealed class StreamingStatistic
{
    private readonly long[] _bins;
    private double _sum;
    private double _sumOfSquares;

    /// <summary>Creates a statistic whose histogram spans [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public StreamingStatistic(double low = -20, double high = 100, double binWidth = 0.25)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(low, high);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(binWidth);
        Low = low;
        High = high;
        BinWidth = binWidth;
        _bins = new long[(int)Math.Ceiling((high - low) / binWidth)];
    }

    /// <summary>The histogram's lower edge.</summary>
    public double Low { get; }

    /// <summary>The histogram's upper edge.</summary>
    public double High { get; }

    /// <summary>The histogram's bin width.</summary>
    public double BinWidth { get; }

    /// <summary>Finite values added.</summary>
    public long Count { get; private set; }

    /// <summary>Infinite or NaN values added (left out of the figures).</summary>
    public long NonFinite { get; private set; }

    /// <summary>Values of -infinity added (counted below every threshold by <see cref="FractionBelow"/>).</summary>
    public long NonFiniteBelow { get; private set; }

    /// <summary>The smallest finite value.</summary>
    public double Min { get; private set; } = double.PositiveInfinity;

    /// <summary>The largest finite value.</summary>
    public double Max { get; private set; } = double.NegativeInfinity;

    /// <summary>The mean of the finite values (NaN when none).</summary>
    public double Mean => Count == 0 ? double.NaN : _sum / Count;

    /// <summary>The population standard deviation of the finite values (NaN when none).</summary>
    public double StandardDeviation => Count == 0 ? double.NaN : Math.Sqrt(Math.Max(0, (_sumOfSquares / Count) - (Mean * Mean)));

    /// <summary>The histogram counts (read-only view).</summary>
    public ReadOnlySpan<long> Bins => _bins;

    /// <summary>Adds a value.</summary>
    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            NonFinite++;
            NonFiniteBelow += double.IsNegativeInfinity(value) ? 1 : 0;
            return;
        }

        Count++;
        _sum += value;
        _sumOfSquares += value * value;
        Min = Math.Min(Min, value);
        Max = Math.Max(Max, value);
        int bin = (int)Math.Floor((value - Low) / BinWidth);
        _bins[Math.Clamp(bin, 0, _bins.Length - 1)]++;
    }

    /// <summary>The fraction of the finite values below <paramref name="threshold"/>, to a bin (exact when the threshold
    /// is a bin edge; silence, -infinity, counts as below anything); NaN when none.</summary>
    public double FractionBelow(double threshold)
    {
        long total = Count + NonFiniteBelow;
        if (total == 0)
        {
            return double.NaN;
        }

        long below = NonFiniteBelow;
        int edge = (int)Math.Clamp(Math.Round((threshold - Low) / BinWidth), 0, _bins.Length);
        for (int i = 0; i < edge; i++)
        {
            below += _bins[i];
        }

        return (double)below / total;
    }

    /// <summary>The approximate <paramref name="q"/>-quantile (0..1): the centre of the bin it falls in, clamped to the
    /// observed range; NaN when empty.</summary>
    public double Quantile(double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1);
        if (Count == 0)
        {
            return double.NaN;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        long seen = 0;
        for (int i = 0; i < _bins.Length; i++)
        {
            seen += _bins[i];
            if (seen >= rank)
            {
                return Math.Clamp(Low + ((i + 0.5) * BinWidth), Min, Max);
            }
        }

        return Max;
    }
}
