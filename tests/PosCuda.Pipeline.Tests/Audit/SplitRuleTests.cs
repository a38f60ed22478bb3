using PosCuda.Coordinator.Audit;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Audit;

public class SplitRuleTests
{
    [Theory]
    [InlineData("7_jackson_0.wav", true)]
    [InlineData("7_jackson_4.wav", true)]
    [InlineData("7_jackson_5.wav", false)]
    [InlineData("sub/3_theo_49.wav", false)]
    public void Fsdd_IndexZeroToFour_IsTest(string key, bool test)
        => Assert.Equal(test, SplitRule.Parse("fsdd").IsTest(key));

    [Fact]
    public void Default_FsddNames_IsFsddElseRandom()
    {
        Assert.Equal("fsdd", SplitRule.Default(["0_a_0.wav", "1_b_7.wav"]).Text);
        Assert.Equal("random:1:0.2", SplitRule.Default(["0_a_0.wav", "yes/x.wav"]).Text);
    }

    [Fact]
    public void Random_SameSeed_SameSplitNearTheFraction()
    {
        string[] keys = [.. Enumerable.Range(0, 2000).Select(i => $"k{i}.wav")];
        SplitRule a = SplitRule.Parse("random:7:0.3");
        SplitRule b = SplitRule.Parse("random:7:0.3");
        bool[] splitA = [.. keys.Select(a.IsTest)];
        Assert.Equal(splitA, keys.Select(b.IsTest));
        Assert.InRange(splitA.Count(t => t) / 2000.0, 0.26, 0.34);
        Assert.NotEqual(splitA, keys.Select(SplitRule.Parse("random:8:0.3").IsTest));
    }

    [Fact]
    public void Random_ByGroup_KeepsAGroupOnOneSide()
    {
        SplitRule rule = SplitRule.Parse("random:1:0.5:by=^\\d+_([a-z]+)_");
        foreach (string speaker in new[] { "jackson", "theo", "nicolas", "george", "yweweler", "lucas" })
        {
            bool first = rule.IsTest($"0_{speaker}_0.wav");
            Assert.All(Enumerable.Range(0, 20), i => Assert.Equal(first, rule.IsTest($"{i % 10}_{speaker}_{i}.wav")));
        }
    }

    [Fact]
    public void Csv_KeySplitRows_AreReadAndUnknownKeysRefused()
    {
        using var temp = new TempDirectory();
        File.WriteAllLines(temp["split.csv"], ["key,split", "a.wav,train", "b.wav,test"]);
        SplitRule rule = SplitRule.Parse("csv:" + temp["split.csv"]);
        Assert.False(rule.IsTest("a.wav"));
        Assert.True(rule.IsTest("b.wav"));
        Assert.Throws<ArgumentException>(() => rule.IsTest("c.wav"));
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("random:x")]
    [InlineData("random:1:1.5")]
    public void Parse_Malformed_Throws(string rule) => Assert.Throws<ArgumentException>(() => SplitRule.Parse(rule));
}
