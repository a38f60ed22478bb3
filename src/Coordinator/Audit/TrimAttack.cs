namespace PosCuda.Coordinator.Audit;

/// <summary><c>trim</c>: cuts leading and trailing silence, as a speech front end does (librosa's <c>effects.trim</c> with
/// <c>top_db=30</c>): 20 ms frames every 10 ms, and every frame at either end more than 30 dB below the loudest frame goes.
/// Deterministic; a clip with no frame above the threshold (all zero) is kept as it is.</summary>
internal sealed class TrimAttack : AudioAttack
{
    public const double TopDb = 30;
    public const double FrameSeconds = 0.020;
    public const double HopSeconds = 0.010;

    public TrimAttack()
        : base("trim")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        int frame = Math.Max(1, (int)Math.Round(FrameSeconds * sampleRate));
        int hop = Math.Max(1, (int)Math.Round(HopSeconds * sampleRate));
        int frames = samples.Length <= frame ? 1 : 1 + ((samples.Length - frame + hop - 1) / hop);
        var energy = new double[frames];
        double loudest = 0;
        for (int f = 0; f < frames; f++)
        {
            ReadOnlySpan<double> window = samples.Slice(f * hop, Math.Min(frame, samples.Length - (f * hop)));
            double sum = 0;
            foreach (double s in window)
            {
                sum += s * s;
            }

            energy[f] = sum / frame;
            loudest = Math.Max(loudest, energy[f]);
        }

        if (loudest <= 0)
        {
            return samples.ToArray();
        }

        double threshold = loudest * Math.Pow(10, -TopDb / 10);
        int first = Array.FindIndex(energy, e => e > threshold);
        int last = Array.FindLastIndex(energy, e => e > threshold);
        int start = first * hop;
        int end = Math.Min(samples.Length, (last * hop) + frame);
        return samples[start..end].ToArray();
    }
}
