using PosCuda.Coordinator.Audit;
using PosCuda.Shared.Analysis;

namespace PosCuda.Pipeline.Tests.Audit;

public class AudioAttackTests
{
    private static readonly double[] s_clip = SyntheticSpeech.Clip(2, 5);

    public static TheoryData<string> Attacks => [.. AudioAttack.Names.Where(n => n != "none")];

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Apply_SameSeedAndKey_SameOutputSameLength(string name)
    {
        AudioAttack attack = AudioAttack.Parse(name)!;
        double[] first = attack.Apply(s_clip, SyntheticSpeech.Rate, AudioAttack.RandomFor(1, name, "a.wav"));
        double[] second = attack.Apply(s_clip, SyntheticSpeech.Rate, AudioAttack.RandomFor(1, name, "a.wav"));
        Assert.Equal(first, second);
        Assert.Equal(s_clip.Length, first.Length);
        Assert.NotEqual(s_clip, first);
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
