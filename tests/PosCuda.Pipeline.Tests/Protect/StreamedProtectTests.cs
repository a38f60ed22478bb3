using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Coordinator.Cli;
using PosCuda.Engine.Processing;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing;
using PosCuda.Testing.Audio;
using PosCuda.Testing.Storage;

namespace PosCuda.Pipeline.Tests.Protect;

/// <summary>
/// Specs that change every sample (poscuda-v2, poscuda-v1 whole mode) on recordings too long to hold cheaply: the
/// pipeline streams them a window at a time, and the output is what the whole-file spec makes of the source, on a
/// folder and on S3; a source that changes between the ranged reads is read again, and never half-written.
/// </summary>
public sealed class StreamedProtectTests : IClassFixture<ProtectFixture>, IClassFixture<MotoServer>
{
    // 13.2 MB of 24-bit stereo at 48 kHz (2.2 M frames, 4.2 v2 groups), chunks before and after the data.
    private static readonly WavBuilder s_long = new WavBuilder
    {
        Format = SampleFormat.SignedPcm,
        ContainerBytes = 3,
        Channels = 2,
        SampleRate = 48000,
        ChunksBeforeData = [WavChunk.Filler("LIST", 37)],
        ChunksAfterData = [WavChunk.Filler("cue ", 24)],
    }.WithNoise(2_200_000, 9);

    private static readonly ProtectionParameters s_v2 = new(spec: PoscudaV2.SpecName);

    private readonly ProtectFixture _fixture;
    private readonly MotoServer _moto;

    public StreamedProtectTests(ProtectFixture fixture, MotoServer moto)
    {
        _fixture = fixture;
        _moto = moto;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Protect_SpecV2LongRecordingInAFolder_StreamsTheWholeFileOutput(bool rf64)
    {
        byte[] input = (s_long with { Rf64 = rf64 }).Build(out int dataOffset);
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp["src/rec"]);
        await File.WriteAllBytesAsync(temp["src/rec/long.wav"], input);

        int code = await PoscudaCli.RunAsync(
            ["protect", temp["src"], temp["out"], "--keyring", _fixture.KeyringPath, "--labels", "dir", "--report", temp["report.json"],
             "--spec", "poscuda-v2", "--memory-limit", "200MB", "--quiet"]);

        Assert.Equal(ExitCodes.Success, code);
        byte[] output = await File.ReadAllBytesAsync(temp["out/rec/long.wav"]);
        Assert.True(_fixture.Expected(input, "rec", "rec/long.wav", s_v2).AsSpan().SequenceEqual(output), "streamed output differs from the whole-file output");
        (long read, long written) = await ReadTransferAsync(temp["report.json"]);

        // Every sample once, plus the prefix and each later window's hop of context read again; the data written once.
        long data = 2_200_000L * 6;
        Assert.InRange(read, data, input.Length + (4 * 2 * 1024 * 6));
        Assert.InRange(written, data, input.Length);
        Assert.Empty(Directory.GetFiles(temp["out/rec"], "*" + FileObjectStore.TempFileMarker + "*", SearchOption.AllDirectories));
        Assert.True(dataOffset > 0);
    }

    [Fact]
    public async Task Protect_SpecV1WholeModeLongRecordingInAFolder_StreamsTheWholeFileOutput()
    {
        byte[] input = s_long.Build();
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp["src/rec"]);
        await File.WriteAllBytesAsync(temp["src/rec/long.wav"], input);

        int code = await PoscudaCli.RunAsync(
            ["protect", temp["src"], temp["out"], "--keyring", _fixture.KeyringPath, "--labels", "dir", "--report", temp["report.json"],
             "--mode", "whole", "--memory-limit", "200MB", "--quiet"]);

        Assert.Equal(ExitCodes.Success, code);
        byte[] output = await File.ReadAllBytesAsync(temp["out/rec/long.wav"]);
        byte[] expected = _fixture.Expected(input, "rec", "rec/long.wav", new ProtectionParameters(mode: PatchMode.Whole));
        Assert.True(expected.AsSpan().SequenceEqual(output), "streamed output differs from the whole-file output");
        (long read, long written) = await ReadTransferAsync(temp["report.json"]);
        Assert.InRange(read, 2_200_000L * 6, input.Length + (4 * 79 * 6));
        Assert.InRange(written, 2_200_000L * 6, input.Length);
    }

    [Fact]
    public async Task Protect_SpecV2LongRecordingOnS3_UploadsEveryPartAndMatchesTheWholeFileOutput()
    {
        byte[] input = s_long.Build();
        string bucket = await _moto.CreateBucketAsync();
        using (AmazonS3Client client = _moto.CreateClient())
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/rec/long.wav", InputStream = new MemoryStream(input) });
        }

        using var temp = new TempDirectory();
        string[] Args(string run) =>
            ["protect", $"s3://{bucket}/raw", $"s3://{bucket}/out", "--keyring", _fixture.KeyringPath, "--labels", "dir", "--spec", "poscuda-v2",
             "--state", temp[run + "-state"], "--report", temp[run + ".json"], "--s3-endpoint", _moto.Endpoint.ToString(), "--quiet"];
        Assert.Equal(ExitCodes.Success, await PoscudaCli.RunAsync(Args("first")));

        byte[] expected = _fixture.Expected(input, "rec", "rec/long.wav", s_v2);
        byte[] output = await GetAsync(bucket, "out/rec/long.wav");
        Assert.True(expected.AsSpan().SequenceEqual(output), "streamed output differs from the whole-file output");
        (long read, long written) = await ReadTransferAsync(temp["first.json"]);
        Assert.Equal(input.Length, written); // every part changes: all uploaded, none copied by S3
        Assert.InRange(read, input.Length, input.Length + (4 * 2 * 1024 * 6));

        // A second run over the published output (same key version, a new source) overwrites it: the fence HEADs
        // first and completes the upload on the ETag it found, in one pass.
        byte[] changed = s_long.WithNoise(2_200_000, 10).Build();
        using (AmazonS3Client client = _moto.CreateClient())
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "raw/rec/long.wav", InputStream = new MemoryStream(changed) });
        }

        Assert.Equal(ExitCodes.Success, await PoscudaCli.RunAsync(Args("second")));
        byte[] second = _fixture.Expected(changed, "rec", "rec/long.wav", s_v2);
        output = await GetAsync(bucket, "out/rec/long.wav");
        Assert.True(second.AsSpan().SequenceEqual(output), "the second run's output was not written");
        Assert.Equal(input.Length, (await ReadTransferAsync(temp["second.json"])).Written);
    }

    [Fact]
    public async Task Protect_SpecV2WindowLargerThanTheMemoryLimit_FailsWithTheFigureAndWritesNothing()
    {
        // 192 kHz: frames of 8,192 samples, so one group of 512 spans 2.1 M frames; 8 channels of float32 make a
        // window of 67 MB and two float64 copies of a channel 34 MB, more than the 96 MB a 192 MB limit leaves.
        byte[] input = new WavBuilder { Format = SampleFormat.IeeeFloat, ContainerBytes = 4, Channels = 8, SampleRate = 192_000, Data = new byte[2_200_000 * 32] }
            .Build();
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp["src/rec"]);
        await File.WriteAllBytesAsync(temp["src/rec/wide.wav"], input);

        int code = await PoscudaCli.RunAsync(
            ["protect", temp["src"], temp["out"], "--keyring", _fixture.KeyringPath, "--labels", "dir", "--report", temp["report.json"],
             "--spec", "poscuda-v2", "--memory-limit", "192MB", "--quiet"]);

        Assert.Equal(ExitCodes.SomeFailed, code);
        Assert.False(File.Exists(temp["out/rec/wide.wav"]));
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(temp["report.json"]));
        JsonElement failure = Assert.Single(json.RootElement.GetProperty("failures").EnumerateArray());
        Assert.Matches(@"^needs 1\d\d(\.\d)? MB in memory to protect one window of it, more than --memory-limit leaves for objects \(96 MB\)$", failure.GetProperty("reason").GetString());
    }

    // The source is rewritten in place after each ranged open (after the header is read, before the windows are):
    // every try sees it change, and after three the object fails with the reason; nothing is published.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Process_SourceChangingBetweenRangedReads_FailsAfterThreeTriesAndWritesNothing(bool s3)
    {
        await using Scenario scenario = await Scenario.CreateAsync(this, s3, changes: int.MaxValue);

        ObjectResult result = await scenario.ProcessAsync();

        Assert.Equal(ObjectOutcome.Failed, result.Outcome);
        Assert.Matches("changed while it was being (read|copied).*; still changing after 3 attempts, nothing written$", result.Reason);
        Assert.Equal(3, scenario.Opens);
        Assert.Null(await scenario.ReadOutputAsync());
    }

    // The source changes once, after the first open: the second try reads the new version whole and publishes what
    // the spec makes of it, never a mix of the two versions.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Process_SourceChangingOnceBetweenRangedReads_RetriesAndWritesTheNewVersion(bool s3)
    {
        await using Scenario scenario = await Scenario.CreateAsync(this, s3, changes: 1);

        ObjectResult result = await scenario.ProcessAsync();

        Assert.Equal(ObjectOutcome.Done, result.Outcome);
        Assert.Equal(2, scenario.Opens);
        byte[] expected = _fixture.Expected(scenario.Current, "rec", "rec/long.wav", s_v2);
        byte[]? output = await scenario.ReadOutputAsync();
        Assert.True(expected.AsSpan().SequenceEqual(output), "the output is not the new version's");
    }

    private async Task<byte[]> GetAsync(string bucket, string key)
    {
        using AmazonS3Client client = _moto.CreateClient();
        using GetObjectResponse output = await client.GetObjectAsync(bucket, key);
        using var body = new MemoryStream();
        await output.ResponseStream.CopyToAsync(body);
        return body.ToArray();
    }

    private static async Task<(long Read, long Written)> ReadTransferAsync(string report)
    {
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllBytesAsync(report));
        JsonElement transfer = json.RootElement.GetProperty("transfer");
        Assert.Equal(1, transfer.GetProperty("objects").GetInt64());
        return (transfer.GetProperty("bytesRead").GetInt64(), transfer.GetProperty("bytesWritten").GetInt64());
    }

    // One long v2 recording in a real folder or moto bucket, processed by a BatchProcessor whose source store rewrites
    // the object (in place for a folder, a new PUT on S3) right after each of its first `changes` ranged opens.
    private sealed class Scenario : IAsyncDisposable
    {
        private readonly StreamedProtectTests _test;
        private readonly TempDirectory _temp = new("poscuda-streamed");
        private readonly bool _s3;
        private string _bucket = "";
        private int _seed = 20;

        private Scenario(StreamedProtectTests test, bool s3)
        {
            _test = test;
            _s3 = s3;
        }

        public int Opens { get; private set; }

        public int Changes { get; init; }

        public byte[] Current { get; private set; } = [];

        private string Source => _s3 ? $"s3://{_bucket}/raw" : _temp["src"];

        private string Destination => _s3 ? $"s3://{_bucket}/out" : _temp["out"];

        public static async Task<Scenario> CreateAsync(StreamedProtectTests test, bool s3, int changes)
        {
            var scenario = new Scenario(test, s3) { Changes = changes };
            if (s3)
            {
                scenario._bucket = await test._moto.CreateBucketAsync();
            }

            await scenario.WriteSourceAsync();
            return scenario;
        }

        public async Task<ObjectResult> ProcessAsync()
        {
            ObjectStoreOptions options = _s3 ? _test._moto.Options : new ObjectStoreOptions();
            await using var stores = new ObjectStoreCache(options, (location, o) =>
            {
                IObjectStore store = ObjectStore.Open(location, o);
                return location == Source ? new ChangingSource(store, this) : store;
            });
            var processor = new BatchProcessor(_test._fixture.Keyring, stores, budget: new MemoryBudget(MemoryBudget.DefaultLimitBytes));
            var job = new JobDefinition(Source, Destination, "dir", s_v2, _test._fixture.Keyring.KeyId, _test._fixture.Keyring.ActiveVersion.Version);
            var lease = new BatchLease(Guid.CreateVersion7(), job, 1, "rec", Guid.NewGuid(), 1, DateTimeOffset.UtcNow.AddMinutes(5), [new BatchObject(1, "rec/long.wav", 0, null)]);
            return Assert.Single(await processor.ProcessAsync(lease, 1, CancellationToken.None));
        }

        public async Task<byte[]?> ReadOutputAsync()
        {
            if (!_s3)
            {
                string path = _temp["out/rec/long.wav"];
                Assert.False(Directory.Exists(_temp["out/rec"]) && Directory.GetFiles(_temp["out/rec"], "*" + FileObjectStore.TempFileMarker + "*").Length > 0, "a temporary file was left");
                return File.Exists(path) ? await File.ReadAllBytesAsync(path) : null;
            }

            using AmazonS3Client client = _test._moto.CreateClient();
            ListObjectsV2Response listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = "out/" });
            if ((listed.S3Objects?.Count ?? 0) == 0)
            {
                return null;
            }

            return await _test.GetAsync(_bucket, "out/rec/long.wav");
        }

        // Writes a new version of the source: other samples, same length.
        public async Task WriteSourceAsync()
        {
            Current = s_long.WithNoise(2_200_000, _seed++).Build();
            if (_s3)
            {
                using AmazonS3Client client = _test._moto.CreateClient();
                await client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "raw/rec/long.wav", InputStream = new MemoryStream(Current) });
                return;
            }

            string path = _temp["src/rec/long.wav"];
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            bool existed = File.Exists(path);
            DateTime before = existed ? File.GetLastWriteTimeUtc(path) : default;
            using (var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
            {
                await file.WriteAsync(Current); // in place: an open reader's handle sees the new bytes
            }

            if (existed)
            {
                File.SetLastWriteTimeUtc(path, before.AddSeconds(1)); // the change is seen even on a coarse clock
            }
        }

        public async ValueTask DisposeAsync()
        {
            _temp.Dispose();
            await ValueTask.CompletedTask;
        }

        // The real store, whose ranged opens are followed by a change of the object while the first `Changes` last.
        private sealed class ChangingSource(IObjectStore inner, Scenario scenario) : IObjectStore
        {
            public string Location => inner.Location;

            public async Task<ObjectReader> OpenReadAsync(string key, int prefixLength, CancellationToken cancellationToken)
            {
                ObjectReader reader = await inner.OpenReadAsync(key, prefixLength, cancellationToken);
                scenario.Opens++;
                if (scenario.Opens <= scenario.Changes)
                {
                    await scenario.WriteSourceAsync();
                }

                return reader;
            }

            public IAsyncEnumerable<StoredObject> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

            public Task<ObjectContent> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

            public Task<string?> PutAsync(string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
                => inner.PutAsync(key, data, metadata, cancellationToken);

            public Task<PatchedWrite> PutPatchedAsync(string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
                => inner.PutPatchedAsync(key, source, patches, metadata, cancellationToken);

            public Task<PatchedWrite> PutStreamedAsync(string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
                => inner.PutStreamedAsync(key, source, patches, metadata, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
