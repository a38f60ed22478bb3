using PosCuda.Coordinator.Audit;
using PosCuda.Shared.Analysis;

namespace PosCuda.Pipeline.Tests.Audit;

public class AudioAttackTests
{
    // A synthetic utterance with 200 ms of silence either side, as recordings have.
    private static readonly double[] s_clip = [.. new double[1600], .. SyntheticSpeech.Clip(2, 5), .. new double[1600]];

    // Attacks that keep the clip's length (crop and trim shorten it).
    private static readonly string[] s_lengthKeeping = ["shift", "resample", "eq", "noise", "mp3"];

    public static TheoryData<string> Attacks => [.. AudioAttack.Names.Where(n => n != "none")];

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Apply_SameSeedAndKey_SameOutputSameLength(string name)
    {
        AudioAttack attack = AudioAttack.Parse(name)!;
        double[] first = attack.Apply(s_clip, SyntheticSpeech.Rate, AudioAttack.RandomFor(1, name, "a.wav"));
        double[] second = attack.Apply(s_clip, SyntheticSpeech.Rate, AudioAttack.RandomFor(1, name, "a.wav"));
        Assert.Equal(first, second);
        if (s_lengthKeeping.Contains(name))
        {
            Assert.Equal(s_clip.Length, first.Length);
        }
        else
        {
            Assert.InRange(first.Length, 1, s_clip.Length - 1);
        }

        Assert.NotEqual(s_clip, first);
    }

    [Fact]
    public void Trim_CutsSilenceAtBothEndsAndKeepsTheRestExactly()
    {
        // 300 ms of -50 dB hum, 500 ms of a tone, 200 ms of -50 dB hum, then digital silence.
        var x = new double[10000];
        for (int i = 0; i < x.Length; i++)
        {
            double hum = 0.003 * Math.Sin(2 * Math.PI * 50 * i / 8000);
            x[i] = i is >= 2400 and < 6400 ? 0.9 * Math.Sin(2 * Math.PI * 440 * i / 8000) : i < 8000 ? hum : 0;
        }

        double[] y = AudioAttack.Parse("trim")!.Apply(x, 8000, new Random(1));

        // The tone's frames stay (a frame that overlaps it by a few samples is loud enough), the hum goes, to a frame.
        int start = x.AsSpan().IndexOf(y.AsSpan());
        Assert.InRange(start, 2400 - 160, 2400);
        Assert.InRange(start + y.Length, 6400, 6400 + 160);
    }

    [Fact]
    public void Trim_AllZero_KeptAsItIs()
    {
        Assert.Equal(new double[800], AudioAttack.Parse("trim")!.Apply(new double[800], 8000, new Random(1)));
    }

    [Fact]
    public void Crop_KeepsOneStretchOfHalfToAllOfTheClip()
    {
        double[] ramp = [.. Enumerable.Range(0, 8000).Select(i => (double)i)];
        var starts = new HashSet<int>();
        for (int seed = 0; seed < 50; seed++)
        {
            double[] y = AudioAttack.Parse("crop")!.Apply(ramp, 8000, new Random(seed));
            Assert.InRange(y.Length, 4000, 8000);
            int start = (int)y[0];
            Assert.Equal(ramp.AsSpan(start, y.Length).ToArray(), y);
            starts.Add(start);
        }

        Assert.True(starts.Count > 25, $"only {starts.Count} distinct starts in 50 draws");
    }

    [Fact]
    public void Noise_AddsNoiseAtThirtyDb()
    {
        double[] y = AudioAttack.Parse("noise")!.Apply(s_clip, SyntheticSpeech.Rate, new Random(3));
        Assert.InRange(SignalMetrics.Snr(s_clip, y), 29.5, 30.5);
    }

    [Fact]
    public void Shift_MovesByAtMostHundredMilliseconds()
    {
        double[] impulse = new double[4000];
        impulse[2000] = 1;
        for (int seed = 0; seed < 20; seed++)
        {
            double[] y = AudioAttack.Parse("shift")!.Apply(impulse, 8000, new Random(seed));
            Assert.InRange(Array.IndexOf(y, 1.0), 2000 - 800, 2000 + 800);
        }
    }

    [Fact]
    public void Parse_None_IsNullAndUnknownThrows()
    {
        Assert.Null(AudioAttack.Parse("none"));
        Assert.Throws<ArgumentException>(() => AudioAttack.Parse("reverb"));
    }
}
