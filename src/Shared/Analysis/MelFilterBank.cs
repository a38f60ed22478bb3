using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Analysis;

/// <summary>Triangular mel filters (HTK mel scale, <c>2595 log10(1 + f/700)</c>) over the bins of a power spectrum.</summary>
public sealed class MelFilterBank
{
    private readonly int[] _first;
    private readonly double[][] _weights;

    /// <summary>Builds <paramref name="bands"/> filters between <paramref name="minHz"/> and <paramref name="maxHz"/>
    /// for an FFT of <paramref name="fftSize"/> at <paramref name="sampleRate"/>.</summary>
    public MelFilterBank(int bands, int fftSize, int sampleRate, double minHz, double maxHz)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bands);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fftSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(minHz, maxHz);
        Bands = bands;
        int bins = (fftSize / 2) + 1;
        double lowMel = MelScale.ToMel(minHz);
        double highMel = MelScale.ToMel(Math.Min(maxHz, sampleRate / 2.0));
        var edges = new double[bands + 2];
        for (int i = 0; i < edges.Length; i++)
        {
            edges[i] = MelScale.ToHertz(lowMel + ((highMel - lowMel) * i / (bands + 1)));
        }

        _first = new int[bands];
        _weights = new double[bands][];
        double binHz = (double)sampleRate / fftSize;
        for (int b = 0; b < bands; b++)
        {
            double left = edges[b];
            double centre = edges[b + 1];
            double right = edges[b + 2];
            int first = Math.Max(0, (int)Math.Ceiling(left / binHz));
            int last = Math.Min(bins - 1, (int)Math.Floor(right / binHz));
            var weights = new List<double>();
            for (int k = first; k <= last; k++)
            {
                double f = k * binHz;
                double w = f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
                weights.Add(Math.Max(0, w));
            }

            _first[b] = first;
            _weights[b] = [.. weights];
        }
    }

    /// <summary>The number of bands.</summary>
    public int Bands { get; }

    /// <summary>Writes the band energies of one power spectrum into <paramref name="energies"/>.</summary>
    public void Apply(ReadOnlySpan<double> power, Span<double> energies)
    {
        for (int b = 0; b < Bands; b++)
        {
            double[] weights = _weights[b];
            int first = _first[b];
            double sum = 0;
            for (int i = 0; i < weights.Length; i++)
            {
                sum += weights[i] * power[first + i];
            }

            energies[b] = sum;
        }
    }
}
