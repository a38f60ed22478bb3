using NAudio.Dsp;

namespace PosCuda.Coordinator.Audit;

/// <summary><c>mp3</c>: what a lossy codec does to fine detail, without a codec: a 4th-order low-pass at 0.4 fs, then
/// mu-law companding (mu = 255) quantised to 8 bits and expanded back (deterministic; no random choice).</summary>
internal sealed class Mp3LikeAttack : AudioAttack
{
    public const double Mu = 255;

    public Mp3LikeAttack()
        : base("mp3")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        float cutoff = (float)(0.4 * sampleRate);
        double[] result = Filter(samples, [BiQuadFilter.LowPassFilter(sampleRate, cutoff, 0.5412f), BiQuadFilter.LowPassFilter(sampleRate, cutoff, 1.3066f)]);
        double log1pMu = Math.Log(1 + Mu);
        for (int i = 0; i < result.Length; i++)
        {
            double x = Math.Clamp(result[i], -1, 1);
            double compressed = Math.Sign(x) * Math.Log(1 + (Mu * Math.Abs(x))) / log1pMu;
            double quantised = Math.Round(compressed * 127) / 127;
            result[i] = Math.Sign(quantised) * (Math.Pow(1 + Mu, Math.Abs(quantised)) - 1) / Mu;
        }

        return result;
    }
}
