using PosCuda.Shared.Labels;
using PosCuda.Testing;

namespace PosCuda.Shared.Tests.Labels;

public sealed class LabelRuleTests
{
    [Theory]
    [InlineData("yes/0a7c2a8d_nohash_0.wav", "yes")]
    [InlineData("speech/yes/a.wav", "yes")]
    public void Dir_KeyInsideAFolder_LabelIsTheParentFolder(string key, string label)
    {
        Assert.Equal(label, LabelRule.Parse("dir").Resolve(key, out string? reason));
        Assert.Null(reason);
    }

    [Fact]
    public void Dir_KeyAtTheTop_HasNoLabelAndSaysWhy()
    {
        Assert.Null(LabelRule.Parse("dir").Resolve("a.wav", out string? reason));
        Assert.Contains("class folder", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("7_jackson_32.wav", "7")]
    [InlineData("copy001/3_theo_0.wav", null)]
    [InlineData("x_7.wav", null)]
    public void Regex_NamedGroup_IsTheLabelOrNoLabelWithAReason(string key, string? label)
    {
        LabelRule rule = LabelRule.Parse(@"regex:^(?<label>\d+)_");

        Assert.Equal(label, rule.Resolve(key, out string? reason));
        Assert.Equal(label is null, reason is not null);
    }

    [Theory]
    [InlineData(@"regex:^(\d+)_", "named group 'label'")]
    [InlineData(@"regex:(?<label>[", "invalid regular expression")]
    [InlineData("folder", "unknown")]
    public void Parse_MalformedRule_SaysWhatIsWrong(string rule, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => LabelRule.Parse(rule));
        Assert.Contains(message, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Csv_HeaderQuotedCommaAndSpaces_FieldsTakenAsWritten()
    {
        using var temp = new TempDirectory();
        string path = temp["labels.csv"];
        File.WriteAllText(path, "key,label\na.wav,3\n\"b,c.wav\",dog\n d.wav , 4\n");

        LabelRule rule = LabelRule.Parse("csv:" + path);

        Assert.Equal("3", rule.Resolve("a.wav", out _));
        Assert.Equal("dog", rule.Resolve("b,c.wav", out _));
        Assert.Equal(" 4", rule.Resolve(" d.wav ", out _));
        Assert.Null(rule.Resolve("d.wav", out string? reason));
        Assert.Contains("not in the label CSV", reason, StringComparison.Ordinal);
        Assert.Equal(3, ((CsvLabelRule)rule).Count);
    }

    [Theory]
    [InlineData("a.wav,1\na.wav,2\n", "listed twice")]
    [InlineData("a.wav,1,extra\n", "3 fields")]
    [InlineData("a.wav,\n", "empty key or label")]
    public void Csv_MalformedFile_SaysWhichLineAndWhy(string content, string message)
    {
        using var temp = new TempDirectory();
        string path = temp["labels.csv"];
        File.WriteAllText(path, content);

        var error = Assert.Throws<ArgumentException>(() => LabelRule.Parse("csv:" + path));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_MissingFile_NamesIt()
    {
        var error = Assert.Throws<ArgumentException>(() => LabelRule.Parse("csv:/nonexistent/labels.csv"));
        Assert.Contains("/nonexistent/labels.csv", error.Message, StringComparison.Ordinal);
    }
}
