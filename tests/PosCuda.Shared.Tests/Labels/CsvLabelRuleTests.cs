using System.Text;
using System.Text.Json;
using PosCuda.Shared.Labels;
using PosCuda.Testing;
using PosCuda.Testing.Processes;

namespace PosCuda.Shared.Tests.Labels;

/// <summary>The label CSV rule, held to the independent Python reference (<c>tools/poscuda_reference.py labels</c>) on the same files.</summary>
public sealed class CsvLabelRuleTests : IDisposable
{
    private static readonly TimeSpan s_pythonTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _temp = new("poscuda-csv");

    /// <summary>Label files, by name: every rule of <see cref="CsvLabelRule"/>, accepted and refused.</summary>
    public static TheoryData<string, byte[]> Files => new()
    {
        { "header", Utf8("key,label\na.wav,3\nb/c.wav,dog\n") },
        { "no-header", Utf8("a.wav,3\nb.wav,4\n") },
        { "crlf", Utf8("key,label\r\na.wav,3\r\nb.wav,4\r\n") },
        { "bom", [0xEF, 0xBB, 0xBF, .. Utf8("key,label\na.wav,3\n")] },
        { "bom-no-header", [0xEF, 0xBB, 0xBF, .. Utf8("a.wav,3\n")] },
        { "blank-lines", Utf8("\n\nkey,label\n\na.wav,3\r\n\r\nb.wav,4\n\n") },
        { "quoting", Utf8("\"a,b.wav\",\"say \"\"hi\"\"\"\n\"multi\r\nline.wav\",\"x\ny\"\n\"plain.wav\",q\n") },
        { "quoted-header", Utf8("\"key\",\"label\"\na.wav,3\n") },
        { "whitespace-kept", Utf8(" a.wav ,  3\n\tb.wav,4\t\n") },
        { "no-final-newline", Utf8("a.wav,3\nb.wav,4") },
        { "header-only", Utf8("key,label\n") },
        { "empty", [] },
        { "header-not-first", Utf8("a.wav,3\nkey,label\n") },
        { "header-other-case", Utf8("Key,Label\na.wav,3\n") },
        { "unicode-and-controls", Utf8("z\u00e9ro/\u0001x.wav,\u00e9t\u00e9\nback\\slash.wav,\U0001F600\n") },
        { "extra-column", Utf8("a.wav,3,extra\n") },
        { "extra-empty-column", Utf8("a.wav,3,\n") },
        { "one-column", Utf8("a.wav\n") },
        { "duplicate-key", Utf8("a.wav,1\na.wav,2\n") },
        { "duplicate-same-label", Utf8("a.wav,1\na.wav,1\n") },
        { "empty-key", Utf8(",3\n") },
        { "empty-label", Utf8("a.wav,\n") },
        { "whitespace-line", Utf8("a.wav,3\n \n") },
        { "quote-in-unquoted", Utf8("a\"b.wav,3\n") },
        { "junk-after-quote", Utf8("\"a.wav\"x,3\n") },
        { "unclosed-quote", Utf8("\"a.wav,3\n") },
        { "lone-cr", Utf8("a.wav,3\rb.wav,4\n") },
        { "invalid-utf8", [.. Utf8("a"), 0xFF, .. Utf8(".wav,3\n")] },
        { "nul", Utf8("a\0.wav,3\n") },
    };

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Load_SameFileAsThePythonReference_ReadsTheSameTableOrBothRefuseIt(string name, byte[] content)
    {
        string path = _temp[name + ".csv"];
        await File.WriteAllBytesAsync(path, content);

        (Dictionary<string, string>? reference, string? referenceError) = await RunReferenceAsync(path);
        Dictionary<string, string>? ours = null;
        string? ourError = null;
        try
        {
            ours = new Dictionary<string, string>(((CsvLabelRule)LabelRule.Parse("csv:" + path)).Labels, StringComparer.Ordinal);
        }
        catch (ArgumentException e)
        {
            ourError = e.Message;
        }

        Assert.True(
            (ours is null) == (reference is null),
            $"{name}: C# {(ours is null ? "refused: " + ourError : "accepted")}, Python {(reference is null ? "refused: " + referenceError : "accepted")}");
        Assert.Equal(reference, ours);
    }

    [Theory]
    [InlineData("bom", "a.wav", "3")]
    [InlineData("crlf", "b.wav", "4")]
    [InlineData("quoting", "a,b.wav", "say \"hi\"")]
    [InlineData("quoting", "multi\r\nline.wav", "x\ny")]
    [InlineData("whitespace-kept", " a.wav ", "  3")]
    [InlineData("header-not-first", "key", "label")]
    [InlineData("header-other-case", "Key", "Label")]
    public void Load_AcceptedFile_LabelsKeysAsWritten(string name, string key, string label)
    {
        string path = _temp[name + ".csv"];
        File.WriteAllBytes(path, Files.Single(row => (string)row[0] == name)[1] as byte[] ?? []);

        Assert.Equal(label, LabelRule.Parse("csv:" + path).Resolve(key, out _));
    }

    [Theory]
    [InlineData("extra-column", "line 1 has 3 fields")]
    [InlineData("duplicate-key", "listed twice (line 2)")]
    [InlineData("empty-label", "line 1 has an empty key or label")]
    [InlineData("quote-in-unquoted", "line 1: a quote inside an unquoted field")]
    [InlineData("unclosed-quote", "line 1: a quoted field is not closed")]
    [InlineData("lone-cr", "line 1: a carriage return must be followed by a line feed")]
    [InlineData("invalid-utf8", "not valid UTF-8")]
    [InlineData("nul", "line 1 holds a NUL character")]
    public void Load_RefusedFile_SaysWhichLineAndWhy(string name, string message)
    {
        string path = _temp[name + ".csv"];
        File.WriteAllBytes(path, Files.Single(row => (string)row[0] == name)[1] as byte[] ?? []);

        var error = Assert.Throws<ArgumentException>(() => LabelRule.Parse("csv:" + path));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    // Runs the reference's 'labels' subcommand on the file: its table, or the error it gives.
    private static async Task<(Dictionary<string, string>? Labels, string? Error)> RunReferenceAsync(string path)
    {
        var command = new ChildCommand("python3")
        {
            Arguments = [Path.Combine(RepositoryPaths.Root, "tools", "poscuda_reference.py"), "labels", "--labels", "csv:" + path],
            Name = "poscuda_reference.py labels",
        };
        ChildProcessResult result = await ChildProcess.RunAsync(command, s_pythonTimeout);
        Assert.True(result.ExitCode == 0, $"the Python reference failed ({result.ExitCode}): {result.StandardError}");
        string output = result.StandardOutput;
        using JsonDocument json = JsonDocument.Parse(output);
        if (json.RootElement.TryGetProperty("error", out JsonElement error))
        {
            return (null, error.GetString());
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty entry in json.RootElement.GetProperty("labels").EnumerateObject())
        {
            labels.Add(entry.Name, entry.Value.GetString()!);
        }

        return (labels, null);
    }
}
