namespace PosCuda.Coordinator.Audit;

/// <summary><c>crop</c>: keeps one random stretch of the clip, 50% to 100% of its length, starting anywhere it fits (the
/// clip gets shorter; nothing is padded).</summary>
internal sealed class CropAttack : AudioAttack
{
    public const double MinFraction = 0.5;

    public CropAttack()
        : base("crop")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        if (samples.Length == 0)
        {
            return [];
        }

        int length = Math.Max(1, (int)Math.Round(Uniform(random, MinFraction, 1.0) * samples.Length));

        int start = random.Next(0, samples.Length - length + 1);
        return samples.Slice(start, length).ToArray();
    }
}
