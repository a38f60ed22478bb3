using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Testing;
using PosCuda.Testing.Processes;

namespace PosCuda.Pipeline.Tests.Protect;

public sealed class ProtectCommandTests : IClassFixture<ProtectFixture>
{
    private readonly ProtectFixture _fixture;

    public ProtectCommandTests(ProtectFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task Protect_BundledSample_ProtectsEveryClipAsTheSpecSays()
    {
        using var temp = new TempDirectory();
        string dst = temp["out"];
        string report = temp["report.json"];

        int code = await PoscudaCli.RunAsync(
            ["protect", RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--report", report, "--quiet"]);

        Assert.Equal(ExitCodes.Success, code);
        string[] sources = Directory.GetFiles(RepositoryPaths.Sample, "*.wav");
        Assert.Equal(100, sources.Length);
        foreach (string source in sources)
        {
            string name = Path.GetFileName(source);
            byte[] input = await File.ReadAllBytesAsync(source);
            byte[] output = await File.ReadAllBytesAsync(Path.Combine(dst, name));
            Assert.Equal(input.Length, output.Length);
            Assert.Equal(_fixture.Expected(input, name[..1], name), output);
            Assert.NotEqual(input, output);
        }

        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        JsonElement totals = json.RootElement.GetProperty("totals");
        Assert.Equal(100, totals.GetProperty("protected").GetInt64());
        Assert.Equal(0, totals.GetProperty("failed").GetInt64());
        Assert.Equal(1, totals.GetProperty("skipped").GetInt64()); // ATTRIBUTION.md
        Assert.Equal(_fixture.Keyring.KeyId, json.RootElement.GetProperty("keyId").GetString());
        Assert.Equal("poscuda-v1", json.RootElement.GetProperty("parameters").GetProperty("spec").GetString());
        Assert.Equal(80, json.RootElement.GetProperty("parameters").GetProperty("taps").GetInt32());
        Assert.False(Directory.Exists(Path.Combine(RepositoryPaths.Sample, ".poscuda")), "protect wrote into its source");
    }

    [Fact]
    public async Task Protect_SpecV2WithCodeOptions_ProtectsAsTheSpecSaysAndReportsThem()
    {
        using var temp = new TempDirectory();
        string dst = temp["out"];
        string report = temp["report.json"];
        string[] args =
        [
            "protect", RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels,
            "--report", report, "--quiet", "--spec", "poscuda-v2", "--code-slots", "6", "--code-weight", "2", "--code-snr", "18",
        ];

        int code = await PoscudaCli.RunAsync(args);

        Assert.Equal(ExitCodes.Success, code);
        var parameters = new Shared.Protection.ProtectionParameters(
            spec: "poscuda-v2", code: new Shared.Protection.SpectralCodeParameters(slots: 6, weight: 2, targetSnr: 18));
        foreach (string source in Directory.GetFiles(RepositoryPaths.Sample, "*.wav"))
        {
            string name = Path.GetFileName(source);
            byte[] input = await File.ReadAllBytesAsync(source);
            Assert.Equal(_fixture.Expected(input, name[..1], name, parameters), await File.ReadAllBytesAsync(Path.Combine(dst, name)));
        }

        using (JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report)))
        {
            JsonElement reported = json.RootElement.GetProperty("parameters");
            Assert.Equal("poscuda-v2", reported.GetProperty("spec").GetString());
            Assert.Equal(6, reported.GetProperty("codeSlots").GetInt32());
            Assert.Equal(2, reported.GetProperty("codeWeight").GetInt32());
            Assert.Equal(18, reported.GetProperty("codeSnr").GetDouble());
            Assert.False(reported.TryGetProperty("taps", out _), "v1's taps reported for a v2 job");
        }
    }

    [Fact]
    public async Task Protect_MalformedClipsAmongGoodOnes_ProtectsGoodReportsBadExits3()
    {
        using var temp = new TempDirectory();
        string src = temp["src"];
        Directory.CreateDirectory(src);
        byte[] good = await File.ReadAllBytesAsync(Path.Combine(RepositoryPaths.Sample, "3_george_0.wav"));
        await File.WriteAllBytesAsync(Path.Combine(src, "3_good_0.wav"), good);
        await File.WriteAllBytesAsync(Path.Combine(src, "4_good_1.wav"), good);
        await File.WriteAllBytesAsync(Path.Combine(src, "3_truncated_0.wav"), good[..30]);
        await File.WriteAllBytesAsync(Path.Combine(src, "3_empty_0.wav"), []);
        await File.WriteAllBytesAsync(Path.Combine(src, "3_garbage_0.wav"), "this is not audio at all, just text"u8.ToArray());
        byte[] oversized = (byte[])good.Clone();
        BitConverter.TryWriteBytes(oversized.AsSpan(40, 4), good.Length * 2); // data chunk size beyond the file
        await File.WriteAllBytesAsync(Path.Combine(src, "3_oversized_0.wav"), oversized);
        byte[] mulaw = (byte[])good.Clone();
        mulaw[20] = 7; // format tag: mu-law
        await File.WriteAllBytesAsync(Path.Combine(src, "3_mulaw_0.wav"), mulaw);
        await File.WriteAllBytesAsync(Path.Combine(src, "nolabel.wav"), good);
        string dst = temp["out"];
        string report = temp["report.json"];

        int code = await PoscudaCli.RunAsync(
            ["protect", src, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--report", report, "--quiet"]);

        Assert.Equal(ExitCodes.SomeFailed, code);
        Assert.Equal(_fixture.Expected(good, "3", "3_good_0.wav"), await File.ReadAllBytesAsync(Path.Combine(dst, "3_good_0.wav")));
        Assert.Equal(_fixture.Expected(good, "4", "4_good_1.wav"), await File.ReadAllBytesAsync(Path.Combine(dst, "4_good_1.wav")));
        string[] written = Directory.GetFiles(dst, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dst, f)).Where(f => !f.StartsWith(".poscuda", StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(["3_good_0.wav", "4_good_1.wav"], written);

        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        Assert.Equal(2, json.RootElement.GetProperty("totals").GetProperty("protected").GetInt64());
        Dictionary<string, string> failures = json.RootElement.GetProperty("failures").EnumerateArray()
            .ToDictionary(f => f.GetProperty("object").GetString()!, f => f.GetProperty("reason").GetString()!);
        Assert.Equal(6, failures.Count);
        Assert.Contains("unsupported encoding", failures["3_mulaw_0.wav"], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("label", failures["nolabel.wav"], StringComparison.OrdinalIgnoreCase);
        foreach (string key in new[] { "3_truncated_0.wav", "3_empty_0.wav", "3_garbage_0.wav", "3_oversized_0.wav" })
        {
            Assert.False(string.IsNullOrWhiteSpace(failures[key]), key);
        }
    }

    [Fact]
    public async Task Protect_DestinationInsideSource_IsUsageErrorAndWritesNothing()
    {
        using var temp = new TempDirectory();
        string src = temp["src"];
        Directory.CreateDirectory(src);
        File.Copy(Path.Combine(RepositoryPaths.Sample, "1_george_0.wav"), Path.Combine(src, "1_a_0.wav"));

        int inside = await PoscudaCli.RunAsync(["protect", src, Path.Combine(src, "out"), "--keyring", _fixture.KeyringPath, "--labels", "dir", "--quiet"]);
        int same = await PoscudaCli.RunAsync(["protect", src, src + "/", "--keyring", _fixture.KeyringPath, "--labels", "dir", "--quiet"]);

        Assert.Equal(ExitCodes.Usage, inside);
        Assert.Equal(ExitCodes.Usage, same);
        Assert.Equal(["1_a_0.wav"], new DirectoryInfo(src).GetFileSystemInfos().Select(i => i.Name).ToArray());
    }

    [Theory]
    [InlineData("--taps", "0")]
    [InlineData("--taps", "2041")]
    [InlineData("--patch", "0")]
    [InlineData("--blur", "-1")]
    [InlineData("--window", "10")]
    [InlineData("--mode", "sideways")]
    [InlineData("--labels", "regex:(no-group)")]
    [InlineData("--labels", "folder")]
    [InlineData("--batch-size", "0")]
    [InlineData("--max-attempts", "0")]
    [InlineData("--concurrency", "-1")]
    [InlineData("--spec", "poscuda-v9")]
    [InlineData("--code-slots", "1")]
    [InlineData("--code-weight", "8")]
    [InlineData("--code-fmax", "-5")]
    [InlineData("--code-snr", "200")]
    [InlineData("--code-depth", "0")]
    public async Task Protect_InvalidOption_IsUsageError(string option, string value)
    {
        using var temp = new TempDirectory();
        string[] args = ["protect", RepositoryPaths.Sample, temp["out"], "--keyring", _fixture.KeyringPath, "--labels", "dir", "--quiet", option, value];

        int code = await PoscudaCli.RunAsync(args);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.False(Directory.Exists(temp["out"]));
    }

    [Fact]
    public async Task Protect_GroupReadableKeyring_IsRefused()
    {
        using var temp = new TempDirectory();
        string keyring = temp["open-keyring.json"];
        File.Copy(_fixture.KeyringPath, keyring);
        File.SetUnixFileMode(keyring, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        int code = await PoscudaCli.RunAsync(["protect", RepositoryPaths.Sample, temp["out"], "--keyring", keyring, "--labels", ProtectFixture.DigitLabels, "--quiet"]);

        Assert.Equal(ExitCodes.Error, code);
        Assert.False(Directory.Exists(temp["out"]));
    }

    [Fact]
    public async Task Protect_SecondJobRightAfterAnotherOnTheSameState_CompletesWithItsManifest()
    {
        // Two processes, one after the other, on one state folder: the second must not wait out (or be refused by)
        // the coordinator lease the first left behind; before that was fixed it exited 0 with no manifest.
        using var temp = new TempDirectory();
        string dst = temp["out"];
        string[] common = [RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--quiet"];

        ChildProcessResult first = await PoscudaTool.RunAsync([.. common.Prepend("protect")]);
        ChildProcessResult second = await PoscudaTool.RunAsync([.. common.Prepend("protect"), "--taps", "40"]);

        Assert.True(first.ExitCode == ExitCodes.Success, first.ToString());
        Assert.True(second.ExitCode == ExitCodes.Success, second.ToString());
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dst, ".poscuda", "manifests"), "*.json").Length);
    }

    [Fact]
    public async Task Protect_KilledHalfway_SameCommandFinishesWithIdenticalOutput()
    {
        using var temp = new TempDirectory();
        string src = temp["src"];
        string[] clips = Directory.GetFiles(RepositoryPaths.Sample, "*.wav");
        for (int copy = 0; copy < 30; copy++)
        {
            string dir = Path.Combine(src, $"c{copy:D2}");
            Directory.CreateDirectory(dir);
            foreach (string clip in clips)
            {
                File.Copy(clip, Path.Combine(dir, Path.GetFileName(clip)));
            }
        }

        const string Labels = @"regex:/(?<label>\d)_";
        string killed = temp["killed"];
        string[] args = ["protect", src, killed, "--keyring", _fixture.KeyringPath, "--labels", Labels, "--quiet", "--concurrency", "1", "--batch-size", "20"];
        await using (ChildProcess process = PoscudaTool.Start("protect", PoscudaTool.Poscuda, args))
        {
            await process.KillWhenAsync(() => Task.FromResult(CountWavs(killed) >= 300), TimeSpan.FromSeconds(60), "300 protected clips");
        }

        int partial = CountWavs(killed);
        Assert.InRange(partial, 300, clips.Length * 30 - 1);

        int resumed = await PoscudaCli.RunAsync(args);
        string reference = temp["reference"];
        int uninterrupted = await PoscudaCli.RunAsync(["protect", src, reference, "--keyring", _fixture.KeyringPath, "--labels", Labels, "--quiet"]);

        Assert.Equal(ExitCodes.Success, resumed);
        Assert.Equal(ExitCodes.Success, uninterrupted);
        Assert.Equal(clips.Length * 30, CountWavs(killed));
        foreach (string file in Directory.EnumerateFiles(reference, "*.wav", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(reference, file);
            Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(killed, relative))), relative);
        }

        Assert.Empty(Directory.EnumerateFiles(killed, "*poscuda-tmp*", SearchOption.AllDirectories));
    }

    private static int CountWavs(string dir)
        => Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*.wav", SearchOption.AllDirectories).Count() : 0;
}
