using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using PosCuda.Shared;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;
using PosCuda.Testing;
using PosCuda.Testing.Storage;

namespace PosCuda.Shared.Tests.Storage;

/// <remarks>Its retry tests read the process-wide retry counter, so it runs in the telemetry collection, alone: no other
/// test's store can add a retry to what they count.</remarks>
[Collection(Telemetry.TelemetryCollection.Name)]
public sealed class S3ObjectStoreTests : ObjectStoreContractTests, IClassFixture<MotoServer>
{
    private readonly MotoServer _moto;

    public S3ObjectStoreTests(MotoServer moto) => _moto = moto;

    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        string bucket = await _moto.CreateBucketAsync();
        return new S3ObjectStore($"s3://{bucket}/data/set", _moto.Options);
    }

    // A new version under the same key: a reader opened before is refused its next ranged read (If-Match).
    protected override Task ReplaceSourceAsync(IObjectStore store, string key, byte[] data) =>
        store.PutAsync(key, data, new Dictionary<string, string>(), CancellationToken.None);

    [Fact]
    public async Task ReadAsync_ObjectReplacedBetweenRangedReads_ThrowsSourceChanged()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);
        await store.PutAsync("a.wav", Pattern(10_000, seed: 1), NoMetadata, CancellationToken.None);
        await using ObjectReader reader = await store.OpenReadAsync("a.wav", 100, CancellationToken.None);
        await reader.ReadAsync(200, new byte[100], CancellationToken.None);

        await store.PutAsync("a.wav", Pattern(10_000, seed: 2), NoMetadata, CancellationToken.None);
        SourceChangedException ex = await Assert.ThrowsAsync<SourceChangedException>(
            () => reader.ReadAsync(300, new byte[100], CancellationToken.None).AsTask());

        Assert.Equal("a.wav", ex.ObjectKey);
        Assert.StartsWith("the object changed while it was being read (ETag ", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutPatchedAsync_SourceReplacedBeforeAllCopiedParts_ThrowsSourceChangedAndWritesNothing()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);
        await store.PutAsync("a.wav", Pattern(12 << 20, seed: 1), NoMetadata, CancellationToken.None);
        await using ObjectReader reader = await store.OpenReadAsync("a.wav", 64, CancellationToken.None);
        await store.PutAsync("a.wav", Pattern(12 << 20, seed: 2), NoMetadata, CancellationToken.None);

        // No patch: every part is a part copy, so only the copies' ETag condition (or the check after them) can notice.
        SourceChangedException ex = await Assert.ThrowsAsync<SourceChangedException>(
            () => store.PutPatchedAsync("b.wav", reader, [], NoMetadata, CancellationToken.None));

        Assert.StartsWith("the object changed while it was being copied (ETag ", ex.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("b.wav", (await ListAllAsync(store)).Select(o => o.Key));
    }

    [Fact]
    public async Task PutPatchedAsync_LargeObject_UploadsOnePartAndHasS3CopyTheRest()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var source = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);
        await using var destination = new S3ObjectStore($"s3://{bucket}/out", _moto.Options);
        byte[] data = Pattern(40 << 20, seed: 3);
        await source.PutAsync("long.wav", data, NoMetadata, CancellationToken.None);
        var metadata = new Dictionary<string, string> { ["poscuda-spec"] = "poscuda-v1" };

        await using ObjectReader reader = await source.OpenReadAsync("long.wav", 64 << 10, CancellationToken.None);
        PatchedWrite write = await destination.PutPatchedAsync("long.wav", reader, [new ObjectPatch(1_000, Pattern(960, seed: 4))], metadata, CancellationToken.None);

        Assert.Equal(5 << 20, write.BytesWritten);
        Assert.Equal((40 << 20) - (5 << 20), write.BytesCopiedByStore);
        Assert.Equal(5 << 20, reader.BytesRead);
        ObjectContent output = await destination.GetAsync("long.wav", CancellationToken.None);
        Pattern(960, seed: 4).CopyTo(data.AsSpan(1_000));
        Assert.True(data.AsSpan().SequenceEqual(output.Data.Span));
        using AmazonS3Client client = _moto.CreateClient();
        GetObjectMetadataResponse head = await client.GetObjectMetadataAsync(bucket, "out/long.wav");
        Assert.Equal("poscuda-v1", head.Metadata["poscuda-spec"]);
    }

    // The publish fence's condition on a patched copy: a multipart upload (12 MiB) and a single PUT (1 MiB).
    [Theory]
    [InlineData(12 << 20)]
    [InlineData(1 << 20)]
    public async Task PutPatchedAsync_WithCondition_RefusedWhenDestinationExistsOrChangedAndWrittenWhenItHolds(int length)
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/d", _moto.Options);
        byte[] data = Pattern(length, seed: 5);
        await store.PutAsync("in/a.wav", data, NoMetadata, CancellationToken.None);
        string? stale = await store.PutAsync("out/a.wav", Pattern(64, seed: 6), NoMetadata, CancellationToken.None);
        string? current = await store.PutAsync("out/a.wav", Pattern(64, seed: 7), NoMetadata, CancellationToken.None);
        ObjectPatch[] patches = [new ObjectPatch(100, Pattern(500, seed: 8))];
        await using ObjectReader reader = await store.OpenReadAsync("in/a.wav", 64, CancellationToken.None);

        // Exists (If-None-Match: *), and changed since read (If-Match on the stale ETag): nothing written either time.
        foreach (WriteCondition refused in new[] { WriteCondition.Absent, WriteCondition.Matching(stale!) })
        {
            PreconditionFailedException ex = await Assert.ThrowsAsync<PreconditionFailedException>(
                () => store.PutPatchedAsync("out/a.wav", reader, patches, NoMetadata, refused, CancellationToken.None));
            Assert.Equal("out/a.wav", ex.ObjectKey);
            ObjectContent kept = await store.GetAsync("out/a.wav", CancellationToken.None);
            Assert.Equal(current, kept.ETag);
            Assert.True(Pattern(64, seed: 7).AsSpan().SequenceEqual(kept.Data.Span));
        }

        PatchedWrite write = await store.PutPatchedAsync("out/a.wav", reader, patches, NoMetadata, WriteCondition.Matching(current!), CancellationToken.None);
        PatchedWrite fresh = await store.PutPatchedAsync("out/b.wav", reader, patches, NoMetadata, WriteCondition.Absent, CancellationToken.None);

        Pattern(500, seed: 8).CopyTo(data.AsSpan(100));
        foreach ((string key, PatchedWrite written) in new[] { ("out/a.wav", write), ("out/b.wav", fresh) })
        {
            ObjectContent output = await store.GetAsync(key, CancellationToken.None);
            Assert.Equal(written.ETag, output.ETag);
            Assert.True(data.AsSpan().SequenceEqual(output.Data.Span), key);
            Assert.Equal(length > (5 << 20) ? 5 << 20 : length, written.BytesWritten);
        }
    }

    // What the server itself checks on CompleteMultipartUpload (no check by the store before it): If-None-Match: * is
    // refused atomically when the key exists. moto 5.2 ignores If-Match there (AWS S3 honours both), which is why
    // S3ObjectStore also checks the destination just before completing; if this starts failing, moto checks it too.
    [Fact]
    public async Task CompleteMultipartUpload_Conditions_IfNoneMatchRefusedByServerWhenKeyExists()
    {
        string bucket = await _moto.CreateBucketAsync();
        using AmazonS3Client client = _moto.CreateClient();
        PutObjectResponse first = await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "k", ContentBody = "one" });
        await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "k", ContentBody = "two" });

        async Task<CompleteMultipartUploadRequest> UploadAsync()
        {
            string id = (await client.InitiateMultipartUploadAsync(bucket, "k")).UploadId;
            using var body = new MemoryStream(Pattern(1_000, seed: 9));
            UploadPartResponse part = await client.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "k", UploadId = id, PartNumber = 1, InputStream = body });
            return new CompleteMultipartUploadRequest { BucketName = bucket, Key = "k", UploadId = id, PartETags = [new PartETag(1, part.ETag)] };
        }

        CompleteMultipartUploadRequest absent = await UploadAsync();
        absent.IfNoneMatch = "*";
        AmazonS3Exception refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.CompleteMultipartUploadAsync(absent));
        Assert.Equal(System.Net.HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Equal("two", await ReadTextAsync(client, bucket, "k"));

        CompleteMultipartUploadRequest stale = await UploadAsync();
        stale.IfMatch = first.ETag;
        await client.CompleteMultipartUploadAsync(stale);
        Assert.Equal(1_000, (await client.GetObjectMetadataAsync(bucket, "k")).ContentLength);
    }

    private static async Task<string> ReadTextAsync(AmazonS3Client client, string bucket, string key)
    {
        using GetObjectResponse response = await client.GetObjectAsync(bucket, key);
        using var reader = new StreamReader(response.ResponseStream);
        return await reader.ReadToEndAsync();
    }

    public static TheoryData<long, long, long> PartPlans => new()
    {
        { 6L << 20, 100, 200 },
        { 40L << 20, 1_000, 2_000 },
        { 40L << 20, (5L << 20) - 10, (5L << 20) + 10 },
        { 40L << 20, (37L << 20) + 5, (37L << 20) + 500 },
        { 40L << 20, (40L << 20) - 100, 40L << 20 },
        { 12L << 30, 6L << 30, (6L << 30) + 4_000 },
        { 12L << 30, 44, 4_000 },
    };

    [Theory]
    [MemberData(nameof(PartPlans))]
    public void PlanParts_AnyPatch_CoversTheObjectInValidPartsWithThePatchUploaded(long length, long from, long to)
    {
        IReadOnlyList<S3ObjectStore.PartPlan> parts = S3ObjectStore.PlanParts(length, [new ObjectPatch(from, new byte[to - from])]);

        long at = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            Assert.Equal(at, parts[i].Offset);
            Assert.True(i == parts.Count - 1 || parts[i].Length >= 5L << 20, $"part {i + 1} of {parts.Count} is {parts[i].Length} bytes");
            Assert.InRange(parts[i].Length, 1, parts[i].Upload ? 16L << 20 : 5L << 30);
            if (parts[i].Offset < to && from < parts[i].Offset + parts[i].Length)
            {
                Assert.True(parts[i].Upload, $"part {i + 1} holds the patch but is copied");
            }

            at += parts[i].Length;
        }

        Assert.Equal(length, at);
        Assert.InRange(parts.Where(p => p.Upload).Sum(p => p.Length), to - from, 16L << 20);
    }

    [Fact]
    public async Task PutAsync_Metadata_RoundTripsAsUserMetadata()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/out", _moto.Options);
        var metadata = new Dictionary<string, string> { ["poscuda-key-id"] = "k-2024", ["poscuda-key-version"] = "3" };

        string? etag = await store.PutAsync("yes/a.wav", Pattern(100, seed: 1), metadata, CancellationToken.None);

        using AmazonS3Client client = _moto.CreateClient();
        GetObjectMetadataResponse head = await client.GetObjectMetadataAsync(bucket, "out/yes/a.wav");
        Assert.Equal("k-2024", head.Metadata["poscuda-key-id"]);
        Assert.Equal("3", head.Metadata["x-amz-meta-poscuda-key-version"]);
        Assert.Equal(etag, head.ETag.Trim('"'));
        Assert.DoesNotContain('"', etag!);
    }

    [Theory]
    [MemberData(nameof(KeysOnlyS3Holds))]
    [InlineData("a\\b.wav")]
    [InlineData("ctl\u0001\u001b[31m.wav")]
    [InlineData("enc%2Fsep.wav")]
    [InlineData("sp ace+plus.wav")]
    [InlineData("q?x#y&z.wav")]
    public async Task PutAsync_KeyAFolderCannotHold_IsKeptAsWrittenAndListedBack(string key)
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);
        byte[] data = Pattern(16, seed: 3);

        await store.PutAsync(key, data, NoMetadata, CancellationToken.None);
        ObjectContent content = await store.GetAsync(key, CancellationToken.None);

        Assert.Equal(data, content.Data.ToArray());
        Assert.Equal([key], (await ListAllAsync(store)).Select(o => o.Key));
        using AmazonS3Client client = _moto.CreateClient();
        ListObjectsV2Response raw = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Encoding = EncodingType.Url });
        S3Object stored = Assert.Single(raw.S3Objects);
        Assert.Equal("in/" + key, S3ObjectStore.DecodeListed(stored.Key)); // the SDK hands keys back still encoded
    }

    [Fact]
    public async Task PutAsync_KeyOver1024BytesWithThePrefix_IsRefusedWithTheLimit()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);

        var error = await Assert.ThrowsAsync<InvalidObjectException>(
            () => store.PutAsync(new string('k', 1022), Pattern(4, seed: 3), NoMetadata, CancellationToken.None));

        Assert.Equal("key is too long for S3: 1025 bytes with the prefix, at most 1024", error.Reason);
    }

    [Theory]
    [InlineData("a+b.wav", "a b.wav")]
    [InlineData("a%2Bb.wav", "a+b.wav")]
    [InlineData("a%20b.wav", "a b.wav")]
    [InlineData("enc%252Fsep.wav", "enc%2Fsep.wav")]
    [InlineData("%E2%82%AC%01.wav", "\u20ac\u0001.wav")]
    public void DecodeListed_FormEncodedKey_IsTheStoredKey(string encoded, string key) => Assert.Equal(key, S3ObjectStore.DecodeListed(encoded));

    [Fact]
    public async Task ListAsync_ObjectsOutsideThePrefix_AreNotListed()
    {
        string bucket = await _moto.CreateBucketAsync();
        using AmazonS3Client client = _moto.CreateClient();
        foreach (string key in new[] { "in/a.wav", "in/sub/b.wav", "in2/c.wav", "inx", "other/d.wav", "in/folder/" })
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = "x" });
        }

        await using var store = new S3ObjectStore($"s3://{bucket}/in", _moto.Options);
        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(["a.wav", "sub/b.wav"], listed.Select(o => o.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ListAsync_WholeBucket_ListsEveryKey()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var store = new S3ObjectStore($"s3://{bucket}", _moto.Options);
        await PutAllAsync(store, ["top.wav", "a/b.wav", "a/c/d.wav"]);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(["a/b.wav", "a/c/d.wav", "top.wav"], listed.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.Equal(string.Empty, store.Prefix);
    }

    [Fact]
    public async Task GetAsync_MissingBucket_ThrowsNonTransientPosCudaException()
    {
        await using var store = new S3ObjectStore("s3://no-such-bucket-poscuda/x", _moto.Options);

        var error = await Assert.ThrowsAsync<PosCudaException>(() => store.GetAsync("a.wav", CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("no-such-bucket-poscuda", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000", false, true)]
    [InlineData("http://localhost:9000", false, true)]
    [InlineData("http://[::1]:9000", false, true)]
    [InlineData("https://s3.example.com", false, false)]
    [InlineData("https://s3.example.com", true, true)]
    public void CreateConfig_Endpoint_ChoosesPathStyle(string endpoint, bool forced, bool expected)
    {
        AmazonS3Config config = S3ObjectStore.CreateConfig(new ObjectStoreOptions(endpoint, forced), static _ => null);

        Assert.Equal(expected, config.ForcePathStyle);
    }

    [Fact]
    public void CreateConfig_Always_TurnsOffSdkRetriesAndBoundsConnections()
    {
        AmazonS3Config config = S3ObjectStore.CreateConfig(new ObjectStoreOptions() { S3MaxConnections = 32 }, static _ => null);

        Assert.Equal(0, config.MaxErrorRetry);
        Assert.Equal(32, config.MaxConnectionsPerServer);
        Assert.Equal("us-east-1", config.RegionEndpoint.SystemName);
    }

    [Fact]
    public void CreateConfig_RegionFromEnvironment_IsUsed()
    {
        var environment = new Dictionary<string, string> { ["AWS_DEFAULT_REGION"] = "eu-west-3", ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1" };

        AmazonS3Config config = S3ObjectStore.CreateConfig(new ObjectStoreOptions(), name => environment.GetValueOrDefault(name));

        Assert.Equal("eu-west-3", config.AuthenticationRegion);
        Assert.True(config.ForcePathStyle);
    }

    [Theory]
    [InlineData("http://option", "http://s3-env", "http://env", "http://option")]
    [InlineData(null, "http://s3-env", "http://env", "http://s3-env")]
    [InlineData(null, null, "http://env", "http://env")]
    [InlineData(null, "", "http://env", "http://env")]
    [InlineData(null, null, null, null)]
    public void ResolveEndpoint_Precedence_OptionThenS3EnvironmentThenGeneric(string? option, string? s3Env, string? env, string? expected)
    {
        var environment = new Dictionary<string, string?> { ["AWS_ENDPOINT_URL_S3"] = s3Env, ["AWS_ENDPOINT_URL"] = env };

        Assert.Equal(expected, S3ObjectStore.ResolveEndpoint(new ObjectStoreOptions(option), name => environment.GetValueOrDefault(name)));
    }

    [Fact]
    public void Constructor_LoopbackEndpoint_UsesPathStyle()
    {
        var store = new S3ObjectStore("s3://b/p", _moto.Options);

        Assert.True(store.Config.ForcePathStyle);
        Assert.Equal("p/", store.Prefix);
    }

    [Theory]
    [InlineData(ProxyFault.SlowDown, "throttled")]
    [InlineData(ProxyFault.InternalError, "server_error")]
    [InlineData(ProxyFault.Disconnect, "network")]
    public async Task GetAsync_TransientFaults_AreRetriedAndCounted(ProxyFault fault, string cause)
    {
        (string bucket, byte[] data) = await SeedAsync("g.wav");
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 4));
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailNext(2, fault);

        ObjectContent content = await store.GetAsync("g.wav", CancellationToken.None);

        Assert.Equal(data, content.Data);
        Assert.Equal(3, proxy.RequestCount);
        Assert.Equal([cause, cause], Causes(retries));
    }

    [Fact]
    public async Task PutAsync_ThrottledTwice_SucceedsAndWritesOnce()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 3));
        using MetricCollector<long> retries = CollectRetries();
        byte[] data = Pattern(30_000, seed: 2);
        proxy.FailNext(2, ProxyFault.SlowDown);

        string? etag = await store.PutAsync("put.wav", data, NoMetadata, CancellationToken.None);

        await using var direct = new S3ObjectStore($"s3://{bucket}/p", _moto.Options);
        ObjectContent content = await direct.GetAsync("put.wav", CancellationToken.None);
        Assert.Equal(data, content.Data);
        Assert.Equal(etag, content.ETag);
        Assert.Equal(["throttled", "throttled"], Causes(retries));
    }

    [Fact]
    public async Task ListAsync_EveryThirdRequestFails_StillListsEverything()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var direct = new S3ObjectStore($"s3://{bucket}/p", _moto.Options);
        string[] keys = [.. Enumerable.Range(0, 40).Select(i => $"c{i % 10}/k{i:D2}.wav")];
        await PutAllAsync(direct, keys);
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 3));
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailEvery(3, ProxyFault.InternalError);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.Equal(proxy.FaultCount, Causes(retries).Count);
        Assert.True(proxy.FaultCount >= 3);
        Assert.All(Causes(retries), c => Assert.Equal("server_error", c));
    }

    [Fact]
    public async Task ListAsync_ManyPrefixes_ListsThemConcurrentlyWithinTheBound()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var direct = new S3ObjectStore($"s3://{bucket}/p", _moto.Options);
        string[] keys = [.. Enumerable.Range(0, 24).Select(i => $"class{i % 12:D2}/k{i:D2}.wav")];
        await PutAllAsync(direct, keys);
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint) { Delay = TimeSpan.FromMilliseconds(300) };
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 0));
        proxy.FailEvery(1, ProxyFault.Delay);

        List<StoredObject> listed = await ListAllAsync(store);

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.Equal(13, proxy.RequestCount);
        Assert.InRange(proxy.MaxConcurrentRequests, 2, 8);
    }

    [Fact]
    public async Task GetAsync_SlowAnswer_IsRetriedAsTimeout()
    {
        (string bucket, byte[] data) = await SeedAsync("slow.wav");
        // The first answer is held far past the request timeout; the timeout is long enough that the retry's prompt answer
        // (through the proxy and moto, on a loaded machine) never runs into it too.
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint) { Delay = TimeSpan.FromSeconds(30) };
        ObjectStoreOptions options = FastRetries(proxy, maxRetries: 2) with { S3RequestTimeout = TimeSpan.FromSeconds(3) };
        await using var store = new S3ObjectStore($"s3://{bucket}/p", options);
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailNext(1, ProxyFault.Delay);

        ObjectContent content = await store.GetAsync("slow.wav", CancellationToken.None);

        Assert.Equal(data, content.Data);
        Assert.Equal(2, proxy.RequestCount);
        Assert.Equal(["timeout"], Causes(retries));
    }

    [Fact]
    public async Task GetAsync_AccessDenied_IsNotRetried()
    {
        (string bucket, _) = await SeedAsync("denied.wav");
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 4));
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailNext(1, ProxyFault.AccessDenied);

        var error = await Assert.ThrowsAsync<PosCudaException>(() => store.GetAsync("denied.wav", CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("AccessDenied", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, proxy.RequestCount);
        Assert.Empty(Causes(retries));
    }

    [Fact]
    public async Task GetAsync_MissingKey_IsNotRetried()
    {
        string bucket = await _moto.CreateBucketAsync();
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 4));

        await Assert.ThrowsAsync<InvalidObjectException>(() => store.GetAsync("nope.wav", CancellationToken.None));

        Assert.Equal(1, proxy.RequestCount);
    }

    [Fact]
    public async Task GetAsync_RetriesExhausted_ThrowsTransientPosCudaException()
    {
        (string bucket, _) = await SeedAsync("exhaust.wav");
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 2));
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailNext(10, ProxyFault.SlowDown);

        var error = await Assert.ThrowsAsync<PosCudaException>(() => store.GetAsync("exhaust.wav", CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.IsType<AmazonS3Exception>(error.InnerException);
        Assert.Equal(3, proxy.RequestCount);
        Assert.Equal(["throttled", "throttled"], Causes(retries));
    }

    [Fact]
    public async Task GetAsync_NoRetriesConfigured_ThrowsTransientAfterOneRequest()
    {
        (string bucket, _) = await SeedAsync("once.wav");
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint);
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 0));
        proxy.FailNext(1, ProxyFault.InternalError);

        var error = await Assert.ThrowsAsync<PosCudaException>(() => store.GetAsync("once.wav", CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.Equal(1, proxy.RequestCount);
    }

    [Fact]
    public async Task GetAsync_CancelledWhileWaiting_ThrowsOperationCanceledWithoutRetry()
    {
        (string bucket, _) = await SeedAsync("cancel.wav");
        await using var proxy = new FaultInjectingProxy(_moto.Endpoint) { Delay = TimeSpan.FromSeconds(5) };
        await using var store = new S3ObjectStore($"s3://{bucket}/p", FastRetries(proxy, maxRetries: 4));
        using MetricCollector<long> retries = CollectRetries();
        proxy.FailNext(1, ProxyFault.Delay);
        using var cancellation = new CancellationTokenSource();

        // Cancelled once the request is being held at the proxy (not before it was sent, which would prove nothing).
        Task<ObjectContent> get = store.GetAsync("cancel.wav", cancellation.Token);
        await Poll.UntilAsync(() => proxy.RequestCount >= 1, TimeSpan.FromSeconds(30), "the request to reach the proxy");
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => get);

        Assert.Empty(Causes(retries));
        Assert.Equal(1, proxy.RequestCount);
    }

    private async Task<(string Bucket, byte[] Data)> SeedAsync(string key)
    {
        string bucket = await _moto.CreateBucketAsync();
        byte[] data = Pattern(12_345, seed: key.Length);
        await using var direct = new S3ObjectStore($"s3://{bucket}/p", _moto.Options);
        await direct.PutAsync(key, data, NoMetadata, CancellationToken.None);
        return (bucket, data);
    }

    private static ObjectStoreOptions FastRetries(FaultInjectingProxy proxy, int maxRetries) =>
        new(S3Endpoint: proxy.Endpoint.ToString(), MaxRetries: maxRetries)
        {
            RetryBaseDelay = TimeSpan.FromMilliseconds(5),
            RetryMaxDelay = TimeSpan.FromMilliseconds(50),
        };

    /// <summary>Collects every <see cref="PipelineTelemetry.StoreRetries"/> measurement while alive.</summary>
    /// <remarks>By name, not by reference: the collector may start inside PipelineTelemetry's static constructor, before the field is assigned.</remarks>
    private static MetricCollector<long> CollectRetries() => new(meterScope: null, PipelineTelemetry.Name, "poscuda.store.retries");

    /// <summary>The retry cause of each retry collected, one entry per retry.</summary>
    private static List<string> Causes(MetricCollector<long> retries)
    {
        var causes = new List<string>();
        foreach (CollectedMeasurement<long> measurement in retries.GetMeasurementSnapshot())
        {
            causes.AddRange(Enumerable.Repeat((string)measurement.Tags[S3ObjectStore.RetryCauseTag]!, (int)measurement.Value));
        }

        return causes;
    }
}
