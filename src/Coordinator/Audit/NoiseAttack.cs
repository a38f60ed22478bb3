namespace PosCuda.Coordinator.Audit;

/// <summary><c>noise</c>: additive white Gaussian noise at 30 dB SNR to the clip's own power.</summary>
internal sealed class NoiseAttack : AudioAttack
{
    public const double SnrDb = 30;

    public NoiseAttack()
        : base("noise")
    {
    }

    public override double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random)
    {
        double power = 0;
        foreach (double s in samples)
        {
            power += s * s;
        }

        power /= Math.Max(1, samples.Length);
        double sigma = Math.Sqrt(power / Math.Pow(10, SnrDb / 10));
        var result = new double[samples.Length];
        for (int i = 0; i < result.Length; i++)
        {
            // Box-Muller.
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            result[i] = samples[i] + (sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return result;
    }
}
