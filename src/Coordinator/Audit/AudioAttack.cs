using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NAudio.Dsp;

namespace PosCuda.Coordinator.Audit;

/// <summary>A transform an adversary applies to training clips before learning from them, to wash out a protection.</summary>
/// <remarks>
/// Applied to the mono waveform at the clip's own rate, before features. Every random choice comes from a generator
/// seeded by (seed, attack, key) (<see cref="RandomFor"/>), so an attacked clip is the same in every run whatever the
/// order clips are processed in.
/// </remarks>
public abstract class AudioAttack
{
    /// <summary>The attack names <see cref="Parse"/> knows, in report order; <c>none</c> is the no-attack row.</summary>
    public static readonly IReadOnlyList<string> Names = ["none", "shift", "crop", "trim", "resample", "eq", "noise", "mp3"];

    private protected AudioAttack(string name)
    {
        Name = name;
    }

    /// <summary>The attack's name.</summary>
    public string Name { get; }

    /// <summary>Returns the attacked signal (a new array; the input is not changed).</summary>
    public abstract double[] Apply(ReadOnlySpan<double> samples, int sampleRate, Random random);

    /// <summary>The attack called <paramref name="name"/>; null for <c>none</c>.</summary>
    /// <exception cref="ArgumentException">No attack has that name.</exception>
    public static AudioAttack? Parse(string name) => name switch
    {
        "none" => null,
        "shift" => new ShiftAttack(),
        "crop" => new CropAttack(),
        "trim" => new TrimAttack(),
        "resample" => new ResampleAttack(),
        "eq" => new EqAttack(),
        "noise" => new NoiseAttack(),
        "mp3" => new Mp3LikeAttack(),
        _ => throw new ArgumentException($"Unknown attack '{name}': use {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>The generator for one clip under one attack and seed.</summary>
    public static Random RandomFor(int seed, string attack, string key)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"poscuda/attack/{seed.ToString(System.Globalization.CultureInfo.InvariantCulture)}/{attack}/{key}"));
        return new Random(BinaryPrimitives.ReadInt32LittleEndian(hash));
    }

    /// <summary>Runs <paramref name="samples"/> through a chain of biquads (NAudio's RBJ-cookbook filters).</summary>
    private protected static double[] Filter(ReadOnlySpan<double> samples, IEnumerable<BiQuadFilter> filters)
    {
        var buffer = new float[samples.Length];
        for (int i = 0; i < samples.Length; i++)
        {
            buffer[i] = (float)samples[i];
        }

        foreach (BiQuadFilter filter in filters)
        {
            for (int i = 0; i < buffer.Length; i++)
            {
                buffer[i] = filter.Transform(buffer[i]);
            }
        }

        var result = new double[buffer.Length];
        for (int i = 0; i < buffer.Length; i++)
        {
            result[i] = buffer[i];
        }

        return result;
    }

    /// <summary>A uniform draw in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    private protected static double Uniform(Random random, double low, double high) => low + (random.NextDouble() * (high - low));
}
