namespace PosCuda.Coordinator.Audit;

/// <summary><c>shift</c>: moves the clip by a random offset of up to 100 ms either way, keeping its length (zeros fill in,
/// what moves past an end is cropped).</summary>
internal sealed class ShiftAttack : AudioAttack
{
    public const double MaxSeconds = 0.100;

    public ShiftAttack()
        : base("shift")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        int max = (int)Math.Round(MaxSeconds * sampleRate);
        int offset = random.Next(-max, max + 1);
        var result = new double[samples.Length];
        for (int i = 0; i < result.Length; i++)
        {
            int from = i - offset;
            result[i] = from >= 0 && from < samples.Length ? samples[from] : 0;
        }

        return result;
    }
}
