using NAudio.Dsp;

namespace PosCuda.Coordinator.Audit;

/// <summary><c>eq</c>: random equalisation plus a low-pass, in the spirit of the filtering attacks on unlearnable audio
/// (RSK+FF-like): three peaking filters (centre log-uniform in 100 Hz..0.4 fs, gain ±6 dB, Q 0.7..2) and a
/// 4th-order Butterworth low-pass (two biquads, Q 0.541 and 1.307) at a random cutoff in 0.25..0.45 fs.</summary>
internal sealed class EqAttack : AudioAttack
{
    public EqAttack()
        : base("eq")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        var filters = new List<BiQuadFilter>();
        for (int i = 0; i < 3; i++)
        {
            double centre = Math.Exp(Uniform(random, Math.Log(100), Math.Log(0.4 * sampleRate)));
            filters.Add(BiQuadFilter.PeakingEQ(sampleRate, (float)centre, (float)Uniform(random, 0.7, 2), (float)Uniform(random, -6, 6)));
        }

        float cutoff = (float)(Uniform(random, 0.25, 0.45) * sampleRate);
        filters.Add(BiQuadFilter.LowPassFilter(sampleRate, cutoff, 0.5412f));
        filters.Add(BiQuadFilter.LowPassFilter(sampleRate, cutoff, 1.3066f));
        return Filter(samples, filters);
    }
}
