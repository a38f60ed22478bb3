using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Protection;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Protect;

/// <summary>SciPy's WAV test suite through <c>poscuda protect</c>, as its README table says (see docs in that folder).</summary>
public sealed class ConformanceProtectTests : IClassFixture<ProtectFixture>
{
    // "protect" rows and the "either" rows this project protects.
    private static readonly string[] s_protected =
    [
        "test-44100Hz-le-1ch-4bytes.wav",
        "test-44100Hz-2ch-32bit-float-le.wav",
        "test-48000Hz-2ch-64bit-float-le-wavex.wav",
        "test-8000Hz-le-2ch-1byteu.wav",
        "test-8000Hz-le-3ch-5S-24bit.wav",
        "test-8000Hz-le-4ch-9S-12bit.wav",
        "test-1234Hz-le-1ch-10S-20bit-extra.wav",
        "test-8000Hz-le-5ch-9S-5bit.wav",
        "test-44100Hz-le-1ch-4bytes-rf64.wav",
        "test-8000Hz-le-3ch-5S-24bit-rf64.wav",
    ];

    // "reject" rows and the "either" rows this project rejects, with a word of the reason.
    private static readonly Dictionary<string, string> s_rejected = new()
    {
        ["test-8000Hz-le-3ch-5S-24bit-inconsistent.wav"] = "inconsistent",
        ["test-8000Hz-le-1ch-1byte-ulaw.wav"] = "unsupported encoding",
        ["test-44100Hz-le-1ch-4bytes-early-eof.wav"] = "end of the file",
        ["test-44100Hz-le-1ch-4bytes-early-eof-no-data.wav"] = "data",
        ["test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav"] = "truncated",
        ["test-8000Hz-le-3ch-5S-64bit.wav"] = "unsupported sample size",
        ["test-8000Hz-le-3ch-5S-36bit.wav"] = "unsupported sample size",
        ["test-8000Hz-le-3ch-5S-45bit.wav"] = "unsupported sample size",
        ["test-8000Hz-le-3ch-5S-53bit.wav"] = "unsupported sample size",
        ["test-44100Hz-be-1ch-4bytes.wav"] = "RIFX",
        ["test-44100Hz-2ch-32bit-float-be.wav"] = "RIFX",
        ["test-8000Hz-be-3ch-5S-24bit.wav"] = "RIFX",
    };

    private readonly ProtectFixture _fixture;

    public ConformanceProtectTests(ProtectFixture fixture)
    {
        _fixture = fixture;
    }

    [Theory]
    [InlineData(PoscudaV1.SpecName, "cpu")]
    [InlineData(PoscudaV2.SpecName, "cpu")]
    [InlineData(PoscudaV1.SpecName, "ilgpu-cpu")]
    [InlineData(PoscudaV2.SpecName, "ilgpu-cpu")] // a GPU node given a v2 job: the transform runs on its CPUs, same bytes
    public async Task Protect_SciPyConformanceSuite_ProtectsAndRejectsAsDocumented(string spec, string device)
    {
        string src = Path.Combine(RepositoryPaths.Root, "tests", "PosCuda.Shared.Tests", "TestData", "wav-conformance");
        using var temp = new TempDirectory();
        string dst = temp["out"];
        string report = temp["report.json"];

        int code = await PoscudaCli.RunAsync(
            ["protect", src, dst, "--keyring", _fixture.KeyringPath, "--labels", "regex:^(?<label>test)-", "--report", report, "--quiet", "--spec", spec, "--device", device]);

        Assert.Equal(ExitCodes.SomeFailed, code);
        // Every file of the suite is in exactly one of the two tables (a new file in neither fails here).
        Assert.Equal(
            Directory.GetFiles(src, "*.wav").Select(Path.GetFileName).Order(StringComparer.Ordinal),
            s_protected.Concat(s_rejected.Keys).Order(StringComparer.Ordinal));
        foreach (string name in s_protected)
        {
            byte[] input = await File.ReadAllBytesAsync(Path.Combine(src, name));
            byte[] output = await File.ReadAllBytesAsync(Path.Combine(dst, name));
            Assert.Equal(_fixture.Expected(input, "test", name, new ProtectionParameters(spec: spec)), output);
            Assert.NotEqual(input, output);
        }

        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        Dictionary<string, string> failures = json.RootElement.GetProperty("failures").EnumerateArray()
            .ToDictionary(f => f.GetProperty("object").GetString()!, f => f.GetProperty("reason").GetString()!);
        Assert.Equal(s_rejected.Keys.Order(), failures.Keys.Order());
        foreach ((string name, string reason) in s_rejected)
        {
            Assert.Contains(reason, failures[name], StringComparison.OrdinalIgnoreCase);
            Assert.False(File.Exists(Path.Combine(dst, name)), $"{name} was rejected but written");
        }

        Assert.Equal(s_protected.Length, json.RootElement.GetProperty("totals").GetProperty("protected").GetInt64());
    }
}
