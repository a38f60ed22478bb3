using NAudio.Dsp;

namespace PosCuda.Shared.Analysis;

/// <summary>Changes the sample rate of a whole signal with NAudio's WDL resampler.</summary>
public static class Resampler
{
    private const int Chunk = 4096;

    /// <summary>Resamples <paramref name="samples"/> from <paramref name="fromRate"/> to <paramref name="toRate"/> Hz.</summary>
    /// <remarks>
    /// The output has <c>round(N × to / from)</c> samples. The WDL resampler runs in input-driven mode with linear
    /// interpolation and its anti-alias IIR filter (NAudio's defaults for <c>WdlResamplingSampleProvider</c>); the
    /// input is followed by zeros to flush the filter, so the end of the signal is not cut off.
    /// </remarks>
    public static double[] Resample(ReadOnlySpan<double> samples, double fromRate, double toRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fromRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(toRate);
        int outLength = (int)Math.Round(samples.Length * toRate / fromRate);
        if (fromRate == toRate || samples.Length == 0)
        {
            return samples.ToArray();
        }

        var resampler = new WdlResampler();
        resampler.SetMode(true, 2, false);
        resampler.SetFilterParms();
        resampler.SetFeedMode(true);
        resampler.SetRates(fromRate, toRate);

        var output = new float[outLength + Chunk];
        int produced = 0;
        int position = 0;
        int padding = (int)Math.Ceiling(fromRate / toRate) + 64;
        int total = samples.Length + padding;
        var scratch = new float[((int)Math.Ceiling(Chunk * toRate / fromRate)) + 64];
        while (position < total && produced < outLength)
        {
            int want = Math.Min(Chunk, total - position);
            int needed = resampler.ResamplePrepare(want, 1, out Span<float> input);
            for (int i = 0; i < needed; i++)
            {
                int at = position + i;
                input[i] = at < samples.Length ? (float)samples[at] : 0f;
            }

            position += needed;
            int got = resampler.ResampleOut(scratch, needed, scratch.Length, 1);
            int take = Math.Min(got, output.Length - produced);
            scratch.AsSpan(0, take).CopyTo(output.AsSpan(produced));
            produced += take;
        }

        var result = new double[outLength];
        for (int i = 0; i < outLength && i < produced; i++)
        {
            result[i] = output[i];
        }

        return result;
    }
}
