using PosCuda.Shared.Analysis;

namespace PosCuda.Coordinator.Audit;

/// <summary><c>resample</c>: resamples the clip to a random rate within ±10% of its own and back (NAudio's WDL
/// resampler both ways), which low-passes below the lower rate and re-interpolates every sample.</summary>
internal sealed class ResampleAttack : AudioAttack
{
    public const double MaxChange = 0.10;

    public ResampleAttack()
        : base("resample")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        double rate = sampleRate * (1 + Uniform(random, -MaxChange, MaxChange));
        double[] there = Resampler.Resample(samples, sampleRate, Math.Round(rate));
        double[] back = Resampler.Resample(there, Math.Round(rate), sampleRate);
        Array.Resize(ref back, samples.Length);
        return back;
    }
}
