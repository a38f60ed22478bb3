using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Audio;
using PosCuda.Testing;
using PosCuda.Testing.Audio;
using PosCuda.Testing.Storage;

namespace PosCuda.Pipeline.Tests.Protect;

/// <summary>
/// <c>protect</c> of recordings longer than S3's smallest part (RIFF and RF64, folder and S3): the output is what the
/// whole-file spec makes of the source, and only the header, the patch and its context pass through the process.
/// </summary>
public sealed class LongRecordingProtectTests : IClassFixture<ProtectFixture>, IClassFixture<MotoServer>
{
    // 12 MiB of 24-bit stereo (2.2 M frames) after a LIST chunk before the data, with a cue chunk after it.
    private static readonly WavBuilder s_long = new WavBuilder
    {
        Format = SampleFormat.SignedPcm,
        ContainerBytes = 3,
        Channels = 2,
        SampleRate = 48000,
        ChunksBeforeData = [WavChunk.Filler("LIST", 37)],
        ChunksAfterData = [WavChunk.Filler("cue ", 24)],
    }.WithNoise(2_100_000, 5);

    private readonly ProtectFixture _fixture;
    private readonly MotoServer _moto;

    public LongRecordingProtectTests(ProtectFixture fixture, MotoServer moto)
    {
        _fixture = fixture;
        _moto = moto;
    }

    [Theory]
    [InlineData(false, "cpu")]
    [InlineData(true, "cpu")]
    [InlineData(false, "ilgpu-cpu")] // an engine that gathers clips still takes a long recording alone, through the ranged path
    public async Task Protect_LongRecordingInAFolder_WritesTheSpecOutputAndReadsOnlyTheHeaderAndPatch(bool rf64, string device)
    {
        byte[] input = (s_long with { Rf64 = rf64 }).Build();
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp["src/rec"]);
        await File.WriteAllBytesAsync(temp["src/rec/long.wav"], input);

        int code = await PoscudaCli.RunAsync(
            ["protect", temp["src"], temp["out"], "--keyring", _fixture.KeyringPath, "--labels", "dir", "--report", temp["report.json"],
             "--memory-limit", "200MB", "--device", device, "--quiet"]);

        Assert.Equal(ExitCodes.Success, code);
        byte[] output = await File.ReadAllBytesAsync(temp["out/rec/long.wav"]);
        Assert.True(_fixture.Expected(input, "rec", "rec/long.wav").AsSpan().SequenceEqual(output));
        (long read, long written) = await ReadTransferAsync(temp["report.json"]);
        // The prefix holds the header and the patch (W = 4000 frames of 6 bytes); the chunk header after the data is read alone.
        Assert.Equal((256 * 1024) + 8, read);
        Assert.Equal(240 * 6, written);
    }

    [Fact]
    public async Task Protect_LongRecordingOnS3_WritesWhatTheFolderPathWritesWithOnePartThroughTheProcess()
    {
        byte[] input = s_long.Build();
        string bucket = await _moto.CreateBucketAsync();
        using (AmazonS3Client client = _moto.CreateClient())
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/rec/long.wav", InputStream = new MemoryStream(input) });
        }

        using var temp = new TempDirectory();
        int code = await PoscudaCli.RunAsync(
            ["protect", $"s3://{bucket}/raw", $"s3://{bucket}/out", "--keyring", _fixture.KeyringPath, "--labels", "dir",
             "--state", temp["state"], "--report", temp["report.json"], "--s3-endpoint", _moto.Endpoint.ToString(), "--quiet"]);

        Assert.Equal(ExitCodes.Success, code);
        using (AmazonS3Client client = _moto.CreateClient())
        {
            using GetObjectResponse output = await client.GetObjectAsync(bucket, "out/rec/long.wav");
            using var body = new MemoryStream();
            await output.ResponseStream.CopyToAsync(body);
            Assert.True(_fixture.Expected(input, "rec", "rec/long.wav").AsSpan().SequenceEqual(body.ToArray()));
        }

        // The uploaded first part (5 MiB, read by one ranged GET beyond the 256 KiB prefix) and the chunk header after
        // the data; S3 copies the other 7 MiB. The completion is conditional (publish fence: If-None-Match: *).
        (long read, long written) = await ReadTransferAsync(temp["report.json"]);
        Assert.Equal((5 << 20) + 8, read);
        Assert.Equal(5 << 20, written);
    }

    // The patched copy goes through the publish fence: over an object of this key version it lands (If-Match on the
    // ETag read), over one of a newer key version (re-keyed after this job) it is refused and the object is kept.
    [Fact]
    public async Task Protect_LongRecordingOnS3_OverwritesSameVersionButNeverANewerKeyVersion()
    {
        byte[] input = s_long.Build();
        string bucket = await _moto.CreateBucketAsync();
        string keyId = _fixture.Keyring.KeyId;
        using (AmazonS3Client client = _moto.CreateClient())
        {
            foreach ((string name, string version) in new[] { ("same.wav", "1"), ("newer.wav", "2") })
            {
                await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/rec/" + name, InputStream = new MemoryStream(input) });
                var existing = new PutObjectRequest { BucketName = bucket, Key = "out/rec/" + name, ContentBody = "published " + version };
                existing.Metadata.Add("poscuda-key-id", keyId);
                existing.Metadata.Add("poscuda-key-version", version);
                await client.PutObjectAsync(existing);
            }
        }

        using var temp = new TempDirectory();
        int code = await PoscudaCli.RunAsync(
            ["protect", $"s3://{bucket}/raw", $"s3://{bucket}/out", "--keyring", _fixture.KeyringPath, "--labels", "dir",
             "--state", temp["state"], "--report", temp["report.json"], "--s3-endpoint", _moto.Endpoint.ToString(), "--quiet"]);

        Assert.Equal(ExitCodes.SomeFailed, code);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(temp["report.json"]));
        JsonElement failure = Assert.Single(json.RootElement.GetProperty("failures").EnumerateArray());
        Assert.Equal("rec/newer.wav", failure.GetProperty("object").GetString());
        Assert.StartsWith("not written: key version 2 is published there, newer than this job's version 1", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        using (AmazonS3Client client = _moto.CreateClient())
        {
            using GetObjectResponse same = await client.GetObjectAsync(bucket, "out/rec/same.wav");
            using var body = new MemoryStream();
            await same.ResponseStream.CopyToAsync(body);
            Assert.True(_fixture.Expected(input, "rec", "rec/same.wav").AsSpan().SequenceEqual(body.ToArray()));
            Assert.Equal("1", same.Metadata["poscuda-key-version"]);

            using GetObjectResponse newer = await client.GetObjectAsync(bucket, "out/rec/newer.wav");
            using var kept = new StreamReader(newer.ResponseStream);
            Assert.Equal("published 2", await kept.ReadToEndAsync());
        }
    }

    private static async Task<(long Read, long Written)> ReadTransferAsync(string report)
    {
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        JsonElement transfer = json.RootElement.GetProperty("transfer");
        Assert.Equal(1, transfer.GetProperty("objects").GetInt64());
        return (transfer.GetProperty("bytesRead").GetInt64(), transfer.GetProperty("bytesWritten").GetInt64());
    }
}
