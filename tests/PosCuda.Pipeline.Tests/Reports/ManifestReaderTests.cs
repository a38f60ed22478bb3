using System.Text;
using PosCuda.Coordinator.Reports;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Reports;

/// <summary>A manifest's head (job, key, parameters), read from its first bytes without the objects that follow.</summary>
public sealed class ManifestReaderTests
{
    private const string V2Head = """
        {"format":"poscuda-manifest/1","jobId":"01a23f0e-afc2-7bb2-a36e-4300e46e7c82","state":"completed","source":"s3://b/src",
        "destination":"s3://b/pub","labels":"regex:^(?<label>\\d+)_","keyId":"51bc903246d0d633","keyVersion":2,"operation":"rekey",
        "parameters":{"spec":"poscuda-v2","codeSlots":8,"codeWeight":4,"codeFmin":0,"codeFmax":4000,"codeSnr":18.5,"codeDepth":0.99},
        "createdAt":"2026-12-04T03:17:34.705+00:00","objects":[{"key":"0_a.wav"
        """;

    [Fact]
    public async Task ReadHeadsAsync_WhatTheWriterWrote_ComesBackAndAnUnreadableManifestIsNamed()
    {
        using var temp = new TempDirectory();
        await using IWorkLedger ledger = WorkLedger.Open("sqlite:" + temp["ledger.db"]);
        await ledger.MigrateAsync(CancellationToken.None);
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: SpectralCodeParameters.Parse("snr=19;slots=10;weight=3"));
        var definition = new JobDefinition("/src", temp["dst"], "dir", parameters, "0123456789abcdef", 2, 5, Operation: new JobOperation(JobKind.Rekey, FromVersion: 1));
        Guid jobId = await ledger.CreateJobAsync(definition, CancellationToken.None);
        await ManifestWriter.WriteAsync(ledger, jobId, new FileObjectStore(temp["dst"]), CancellationToken.None);
        await File.WriteAllTextAsync(temp["dst/.poscuda/manifests/broken.json"], "{\"format\":");
        var unreadable = new List<string>();

        IReadOnlyList<ManifestReader.Head> heads = await ManifestReader.ReadHeadsAsync(
            new FileObjectStore(temp["dst/.poscuda/manifests"]), unreadable, CancellationToken.None);

        ManifestReader.Head head = Assert.Single(heads);
        Assert.Equal((jobId, temp["dst"], "0123456789abcdef", 2, JobKind.Rekey, parameters), (head.JobId, head.Destination, head.KeyId, head.KeyVersion, head.Kind, head.Parameters));
        Assert.StartsWith("broken.json: ", Assert.Single(unreadable), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_V2RekeyHead_GivesTheJobKeyAndParametersAndStopsAtTheObjects()
    {
        ManifestReader.Head head = ManifestReader.Parse(Encoding.UTF8.GetBytes(V2Head))!; // Cut inside the objects, as a prefix is.

        Assert.Equal(Guid.Parse("01a23f0e-afc2-7bb2-a36e-4300e46e7c82"), head.JobId);
        Assert.Equal(("s3://b/pub", "51bc903246d0d633", 2, JobKind.Rekey), (head.Destination, head.KeyId, head.KeyVersion, head.Kind));
        Assert.Equal(new ProtectionParameters(spec: PoscudaV2.SpecName, code: SpectralCodeParameters.Parse("snr=18.5")), head.Parameters);
        Assert.Equal(DateTimeOffset.Parse("2026-12-04T03:17:34.705+00:00", System.Globalization.CultureInfo.InvariantCulture), head.CreatedAt);
    }

    [Fact]
    public void Parse_V1HeadWrittenBeforeOperationsWereRecorded_IsAProtectJobWithItsParameters()
    {
        const string V1 = """
            {"format":"poscuda-manifest/1","jobId":"01a23f0e-a764-790f-b65a-aeabf1a85875","state":"completed","source":"/s","destination":"/d",
            "labels":"regex:^(?<label>\\d+)_","keyId":"k","keyVersion":1,
            "parameters":{"spec":"poscuda-v1","taps":40,"patch":120,"blur":0.3,"window":2000,"mode":"whole"},"createdAt":"2026-12-04T03:17:34Z","objects":[]}
            """;

        ManifestReader.Head head = ManifestReader.Parse(Encoding.UTF8.GetBytes(V1))!;

        Assert.Equal(JobKind.Protect, head.Kind);
        Assert.Equal(new ProtectionParameters(40, 120, 0.3, 2000, PatchMode.Whole), head.Parameters);
    }

    [Theory]
    [InlineData(200)] // Cut inside the head: not whole, so nothing.
    [InlineData(0)]
    public void Parse_APrefixThatStopsInsideTheHead_IsNull(int length)
    {
        Assert.Null(ManifestReader.Parse(Encoding.UTF8.GetBytes(V2Head)[..length]));
    }

    [Fact]
    public void Parse_JsonThatIsNotAManifest_IsNull()
    {
        Assert.Null(ManifestReader.Parse("""{"format":"something-else/1","jobId":"x"}"""u8));
        Assert.Null(ManifestReader.Parse("""[1,2,3]"""u8));
    }
}
