using PosCuda.Testing.Audio;

namespace PosCuda.Pipeline.Tests.Audit;

/// <summary>A tiny 4-class dataset of "speech-like" clips whose class is learnable: a harmonic tone whose pitch
/// depends on the class (jittered ±6%), with a random onset and decay, over a noise floor.</summary>
internal static class SyntheticSpeech
{
    public const int Rate = 8000;
    public const int Frames = 4000;
    public static readonly double[] Pitches = [180, 260, 370, 520];

    /// <summary>Writes <paramref name="perClass"/> clips of each class under <c>{folder}/{class}/{n}.wav</c>, with
    /// <paramref name="transform"/> (class, samples) applied.</summary>
    public static void Write(string folder, int perClass, Func<int, double[], double[]> transform)
    {
        for (int c = 0; c < Pitches.Length; c++)
        {
            Directory.CreateDirectory(Path.Combine(folder, $"c{c}"));
            for (int n = 0; n < perClass; n++)
            {
                double[] clip = transform(c, Clip(c, (c * 1000) + n));
                File.WriteAllBytes(Path.Combine(folder, $"c{c}", $"{n:D3}.wav"), new WavBuilder().WithSamples(clip).Build());
            }
        }
    }

    /// <summary>One clip of class <paramref name="c"/>.</summary>
    public static double[] Clip(int c, int seed)
    {
        var random = new Random(seed);
        double f0 = Pitches[c] * (1 + ((random.NextDouble() - 0.5) * 0.12));
        int onset = random.Next(0, 1200);
        int length = random.Next(1500, Frames - onset);
        double amplitude = 0.2 + (0.2 * random.NextDouble());
        var x = new double[Frames];
        for (int i = 0; i < Frames; i++)
        {
            x[i] = 0.01 * (random.NextDouble() - 0.5);
            int t = i - onset;
            if (t >= 0 && t < length)
            {
                double envelope = Math.Sin(Math.PI * t / length);
                double phase = 2 * Math.PI * f0 * t / Rate;
                x[i] += amplitude * envelope * (Math.Sin(phase) + (0.5 * Math.Sin(2 * phase)) + (0.25 * Math.Sin(3 * phase))) / 1.75;
            }
        }

        return x;
    }
}
