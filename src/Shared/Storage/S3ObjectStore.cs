using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PosCuda.Shared.Telemetry;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace PosCuda.Shared.Storage;

/// <summary>An object store over an S3 bucket and prefix (<c>s3://bucket/prefix</c>), addressed by keys relative to the prefix.</summary>
/// <remarks>
/// <para>Endpoint: <see cref="ObjectStoreOptions.S3Endpoint"/>, else <c>AWS_ENDPOINT_URL_S3</c>, else
/// <c>AWS_ENDPOINT_URL</c>, else AWS. Path-style addressing is used when the endpoint is an IP address or localhost, or
/// when <see cref="ObjectStoreOptions.S3PathStyle"/> asks for it. Region: <c>AWS_REGION</c>, else
/// <c>AWS_DEFAULT_REGION</c>, else <c>us-east-1</c>. Credentials: the SDK's standard chain (environment, profiles,
/// container and instance roles); they never appear in messages.</para>
/// <para>Against a custom endpoint (an S3-compatible server) request and response checksums are only sent or checked
/// where the API requires them, since many such servers reject the SDK's default streaming checksum trailers.</para>
/// <para>Retries: the SDK's own retries are off; one retry strategy (exponential backoff with jitter, at most
/// <see cref="ObjectStoreOptions.MaxRetries"/>) retries throttling (429, 503 SlowDown), other 5xx, timeouts and network
/// errors, never other 4xx, and counts every retry on <see cref="PipelineTelemetry.StoreRetries"/>. When retries run
/// out the error is a transient <see cref="PosCudaException"/>.</para>
/// <para>Listing lists the prefix with delimiter '/' first, yielding its direct objects, then lists each common prefix
/// (recursively, without delimiter) up to eight at a time; the order of keys is therefore not defined. Zero-length
/// keys ending in '/' (folder markers) are skipped.</para>
/// </remarks>
public sealed partial class S3ObjectStore : IConditionalObjectStore
{
    /// <summary>The tag naming why a request was retried.</summary>
    public const string RetryCauseTag = "poscuda.retry.cause";

    private const int ListConcurrency = 8;
    private const int ListBufferSize = 2048;

    private readonly AmazonS3Client _client;
    private readonly ResiliencePipeline _pipeline;
    private readonly S3Location _location;
    private readonly int _maxRetries;

    /// <summary>Opens <paramref name="location"/> (<c>s3://bucket/prefix</c>); nothing is sent until the first request.</summary>
    public S3ObjectStore(string location, ObjectStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        ArgumentNullException.ThrowIfNull(options);
        _location = S3Location.Parse(location);
        Location = location;
        _maxRetries = options.MaxRetries;
        _client = new AmazonS3Client(CreateConfig(options, Environment.GetEnvironmentVariable));
        _pipeline = CreatePipeline(options);
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>The bucket.</summary>
    public string Bucket => _location.Bucket;

    /// <summary>The key prefix, empty or ending with '/'.</summary>
    public string Prefix => _location.Prefix;

    /// <summary>The SDK configuration in use, for tests.</summary>
    internal AmazonS3Config Config => (AmazonS3Config)_client.Config;

    /// <inheritdoc />
    /// <exception cref="PosCudaException">A listing request failed (transient when retries ran out).</exception>
    public async IAsyncEnumerable<StoredObject> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var producerCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Channel<StoredObject> channel = Channel.CreateBounded<StoredObject>(
            new BoundedChannelOptions(ListBufferSize) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        Task producer = ProduceListingAsync(channel.Writer, producerCancellation.Token);
        bool drained = false;
        try
        {
            await foreach (StoredObject stored in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return stored;
            }

            drained = true;
        }
        finally
        {
            if (!drained)
            {
                // The consumer stopped early or was cancelled: stop the listing and let it wind down.
                await producerCancellation.CancelAsync().ConfigureAwait(false);
                try
                {
                    await producer.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Already leaving; the consumer's own exception (if any) is the one that matters.
                }
            }
        }

        // Surfaces the listing's error, if any (the channel is always completed without one).
        await producer.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ObjectContent> GetAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        var request = new GetObjectRequest { BucketName = _location.Bucket, Key = _location.Prefix + key };
        return await ExecuteAsync("GET", key, async token =>
        {
            using GetObjectResponse response = await _client.GetObjectAsync(request, token).ConfigureAwait(false);
            ObjectContent content = await ReadBodyAsync(key, response, token).ConfigureAwait(false);
            content.Metadata = UserMetadata(response.Metadata);
            return content;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Metadata goes out as user metadata (<c>x-amz-meta-</c> headers, which the SDK adds); names and values must be ASCII.</remarks>
    public async Task<string?> PutAsync(string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        ArgumentNullException.ThrowIfNull(metadata);
        return await ExecuteAsync("PUT", key, async token =>
        {
            // A fresh stream per attempt: a failed attempt may have read part of the last one.
            using MemoryStream body = CreateReadStream(data);
            var request = new PutObjectRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Prefix + key,
                InputStream = body,
                AutoCloseStream = false,
            };
            foreach (KeyValuePair<string, string> pair in metadata)
            {
                request.Metadata.Add(pair.Key, pair.Value);
            }

            PutObjectResponse response = await _client.PutObjectAsync(request, token).ConfigureAwait(false);
            return Unquote(response.ETag);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <inheritdoc/>
    /// <remarks>One ranged GET of the prefix, which also tells the object's length and ETag; later reads are ranged
    /// GETs conditional on that ETag (<c>If-Match</c>), so a changed object is noticed, never mixed in.</remarks>
    public async Task<ObjectReader> OpenReadAsync(string key, int prefixLength, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        return await ExecuteAsync("GET", key, async token =>
        {
            var request = new GetObjectRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Prefix + key,
                ByteRange = new ByteRange(0, Math.Max(prefixLength, 1) - 1),
            };
            GetObjectResponse response;
            try
            {
                response = await _client.GetObjectAsync(request, token).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // An empty object has no byte 0.
                request.ByteRange = null;
                response = await _client.GetObjectAsync(request, token).ConfigureAwait(false);
            }

            using (response)
            {
                long length = TotalLength(response);
                byte[] prefix = new byte[Math.Min(prefixLength, length)];
                await response.ResponseStream.ReadExactlyAsync(prefix, token).ConfigureAwait(false);
                return (ObjectReader)new S3ObjectReader(this, key, length, Unquote(response.ETag), prefix);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Below <see cref="MultipartThreshold"/>, or when the source is short enough to be held, one PUT of the patched
    /// bytes. Above it, a multipart upload: the parts that hold no patch are copied by S3 from the source
    /// (<c>UploadPartCopy</c>, conditional on the source's ETag), the part that holds the patches is uploaded. Every
    /// part but the last must be at least 5 MiB, so the uploaded part is at least 5 MiB (read by ranged GET). A source
    /// in another store or behind another endpoint is uploaded in 8 MiB parts through a bounded buffer.
    /// </remarks>
    public Task<PatchedWrite> PutPatchedAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
        => PutPatchedCoreAsync(key, source, patches, metadata, condition: null, cancellationToken);

    // condition: what the destination must be when the write lands (the publish fence), or null for an unconditional write.
    private async Task<PatchedWrite> PutPatchedCoreAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        WriteCondition? condition, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(patches);
        ArgumentNullException.ThrowIfNull(metadata);
        if (source.HoldsWholeObject || source.Length < MultipartThreshold)
        {
            byte[] data = new byte[source.Length];
            await source.ReadAsync(0, data, cancellationToken).ConfigureAwait(false);
            ObjectPatch.ApplyTo(data, 0, patches);
            string? etag = condition is null
                ? await PutAsync(key, data, metadata, cancellationToken).ConfigureAwait(false)
                : await PutAsync(key, data, metadata, condition, cancellationToken).ConfigureAwait(false);
            return new PatchedWrite(etag, data.Length, 0);
        }

        bool serverCopy = source is S3ObjectReader s3 && s3.Store.SharesEndpointWith(this) && source.ETag is not null;
        IReadOnlyList<PartPlan> plan = serverCopy ? PlanParts(source.Length, patches) : PlanUploadParts(source.Length);
        return await PutMultipartAsync(key, source, patches, metadata, plan, condition, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Objects at least this long are written by multipart upload (S3's smallest part, 5 MiB).</summary>
    public const long MultipartThreshold = MinPartSize;

    private const long MinPartSize = 5L << 20;
    private const long MaxCopyPartSize = 5L << 30;
    private const long UploadPartSize = 8L << 20;

    /// <summary>A part of a multipart upload: the source's bytes <c>[Offset, Offset + Length)</c>, uploaded or copied by S3.</summary>
    internal readonly record struct PartPlan(long Offset, long Length, bool Upload);

    /// <summary>The parts of a patched copy of <paramref name="length"/> bytes: one uploaded part covering every patch,
    /// at least <see cref="MinPartSize"/> long unless it is the last, and copied parts around it.</summary>
    internal static IReadOnlyList<PartPlan> PlanParts(long length, IReadOnlyList<ObjectPatch> patches)
    {
        if (patches.Count == 0)
        {
            return SplitCopies(0, length);
        }

        long low = long.MaxValue;
        long high = 0;
        foreach (ObjectPatch patch in patches)
        {
            low = Math.Min(low, patch.Offset);
            high = Math.Max(high, patch.End);
        }

        // The copied part before the upload must be at least MinPartSize too: else start the upload at 0.
        long start = low < MinPartSize ? 0 : low;
        long end = Math.Min(length, Math.Max(high, start + MinPartSize));

        // A tail shorter than a part would be fine (it is last), but folding a short tail in saves a request.
        if (length - end < MinPartSize)
        {
            end = length;
        }

        var parts = new List<PartPlan>();
        parts.AddRange(SplitCopies(0, start));
        for (long at = start; at < end;)
        {
            // Uploaded parts of at most 2 x UploadPartSize; none shorter than MinPartSize unless last.
            long size = end - at <= 2 * UploadPartSize ? end - at : UploadPartSize;
            parts.Add(new PartPlan(at, size, Upload: true));
            at += size;
        }

        parts.AddRange(SplitCopies(end, length - end));
        return parts;
    }

    private static List<PartPlan> PlanUploadParts(long length)
    {
        var parts = new List<PartPlan>();
        for (long at = 0; at < length; at += UploadPartSize)
        {
            parts.Add(new PartPlan(at, Math.Min(UploadPartSize, length - at), Upload: true));
        }

        return parts;
    }

    // Copied parts of at most 5 GiB, of equal size so none is below the minimum.
    private static List<PartPlan> SplitCopies(long offset, long length)
    {
        var parts = new List<PartPlan>();
        if (length <= 0)
        {
            return parts;
        }

        long count = (length + MaxCopyPartSize - 1) / MaxCopyPartSize;
        long size = (length + count - 1) / count;
        for (long at = 0; at < length; at += size)
        {
            parts.Add(new PartPlan(offset + at, Math.Min(size, length - at), Upload: false));
        }

        return parts;
    }

    private async Task<PatchedWrite> PutMultipartAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        IReadOnlyList<PartPlan> plan, WriteCondition? condition, CancellationToken cancellationToken)
    {
        string fullKey = _location.Prefix + key;
        string uploadId = await InitiateUploadAsync(key, fullKey, metadata, cancellationToken).ConfigureAwait(false);
        bool completed = false;
        try
        {
            long written = 0;
            long copied = 0;
            var etags = new List<PartETag>(plan.Count);
            byte[]? buffer = null;
            for (int i = 0; i < plan.Count; i++)
            {
                PartPlan part = plan[i];
                int number = i + 1;
                if (part.Upload)
                {
                    buffer ??= new byte[MaxUploadPart(plan)];
                    Memory<byte> bytes = buffer.AsMemory(0, (int)part.Length);
                    await source.ReadAsync(part.Offset, bytes, cancellationToken).ConfigureAwait(false);
                    ObjectPatch.ApplyTo(bytes.Span, part.Offset, patches);
                    etags.Add(await UploadPartAsync(key, fullKey, uploadId, number, bytes, cancellationToken).ConfigureAwait(false));
                    written += part.Length;
                }
                else
                {
                    var s3 = (S3ObjectReader)source;
                    var request = new CopyPartRequest
                    {
                        SourceBucket = s3.Store.Bucket,
                        SourceKey = s3.Store.Prefix + source.Key,
                        DestinationBucket = _location.Bucket,
                        DestinationKey = fullKey,
                        UploadId = uploadId,
                        PartNumber = number,
                        FirstByte = part.Offset,
                        LastByte = part.Offset + part.Length - 1,
                        ETagToMatch = ["\"" + source.ETag + "\""],
                    };
                    CopyPartResponse response;
                    try
                    {
                        response = await ExecuteAsync(
                            "PUT", key, token => _client.CopyPartAsync(request, token), cancellationToken).ConfigureAwait(false);
                    }
                    catch (PosCudaException e) when (e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.PreconditionFailed })
                    {
                        throw new SourceChangedException(source.Key, $"the object changed while it was being copied (ETag {source.ETag})", e);
                    }

                    etags.Add(new PartETag(number, response.ETag));
                    copied += part.Length;
                }
            }

            if (copied > 0)
            {
                // Part copies ask for the source's ETag (x-amz-copy-source-if-match), but not every S3-compatible server
                // honours it: the source must still be the version read, or the copies may be of another one.
                await EnsureUnchangedAsync((S3ObjectReader)source, cancellationToken).ConfigureAwait(false);
            }

            string? done = await CompleteUploadAsync(key, uploadId, etags, condition, cancellationToken).ConfigureAwait(false);
            completed = true;
            return new PatchedWrite(done, written, copied);
        }
        finally
        {
            if (!completed)
            {
                await AbortUploadAsync(fullKey, uploadId).ConfigureAwait(false);
            }
        }
    }

    // Completes a multipart upload, landing only where condition holds (null: unconditionally); returns its ETag.
    private async Task<string?> CompleteUploadAsync(string key, string uploadId, List<PartETag> etags, WriteCondition? condition, CancellationToken cancellationToken)
    {
        var complete = new CompleteMultipartUploadRequest { BucketName = _location.Bucket, Key = _location.Prefix + key, UploadId = uploadId, PartETags = etags };
        if (condition is not null)
        {
            await EnsureConditionAsync(key, condition, cancellationToken).ConfigureAwait(false);
            if (condition.IfMatch is { } match)
            {
                complete.IfMatch = "\"" + match + "\"";
            }
            else
            {
                complete.IfNoneMatch = "*";
            }
        }

        try
        {
            CompleteMultipartUploadResponse done = await ExecuteAsync(
                "PUT", key, token => _client.CompleteMultipartUploadAsync(complete, token), cancellationToken).ConfigureAwait(false);
            return Unquote(done.ETag);
        }
        catch (PosCudaException e) when (condition is not null && e.InnerException is AmazonS3Exception
            { StatusCode: HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict } or AmazonS3Exception { ErrorCode: "NoSuchKey" })
        {
            // 412: the destination is no longer what the condition names; 409: a concurrent conditional write won.
            throw new PreconditionFailedException(key, condition, e);
        }
    }

    private async Task AbortUploadAsync(string fullKey, string uploadId)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = _location.Bucket, Key = fullKey, UploadId = uploadId },
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or OperationCanceledException)
        {
            // The upload is left for the bucket's lifecycle rule to clean; the original error is what matters.
        }
    }

    private static async Task EnsureUnchangedAsync(S3ObjectReader source, CancellationToken cancellationToken)
    {
        S3ObjectStore store = source.Store;
        var request = new GetObjectMetadataRequest
        {
            BucketName = store._location.Bucket,
            Key = store._location.Prefix + source.Key,
            EtagToMatch = "\"" + source.ETag + "\"",
        };
        GetObjectMetadataResponse head;
        try
        {
            head = await store.ExecuteAsync("HEAD", source.Key, token => store._client.GetObjectMetadataAsync(request, token), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (PosCudaException e) when (e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound })
        {
            throw new SourceChangedException(source.Key, $"the object changed while it was being copied (ETag {source.ETag})", e);
        }

        if (!string.Equals(Unquote(head.ETag), source.ETag, StringComparison.Ordinal))
        {
            throw new SourceChangedException(source.Key, $"the object changed while it was being copied (ETag {source.ETag}, now {Unquote(head.ETag)})");
        }
    }

    // The completion carries the condition (If-Match / If-None-Match on CompleteMultipartUpload), which S3 checks
    // atomically. Not every S3-compatible server does: moto 5.2 checks If-None-Match: * there but ignores If-Match. So
    // the destination is also checked here, just before completing; on such a server a write landing between this
    // check and the completion (milliseconds) is not detected.
    private async Task EnsureConditionAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        ObjectHead? head = await HeadAsync(key, cancellationToken).ConfigureAwait(false);
        bool holds = condition.IfMatch is { } match
            ? head is not null && string.Equals(head.ETag, match, StringComparison.Ordinal)
            : head is null;
        if (!holds)
        {
            throw new PreconditionFailedException(key, condition);
        }
    }

    private static int MaxUploadPart(IReadOnlyList<PartPlan> plan)
    {
        long max = 0;
        foreach (PartPlan part in plan)
        {
            if (part.Upload)
            {
                max = Math.Max(max, part.Length);
            }
        }

        return (int)max;
    }

    // Whether a part copy from that store's objects can be asked of this store's endpoint.
    private bool SharesEndpointWith(S3ObjectStore other) =>
        ReferenceEquals(this, other)
        || (string.Equals(Config.ServiceURL, other.Config.ServiceURL, StringComparison.Ordinal)
            && Equals(Config.RegionEndpoint, other.Config.RegionEndpoint));

    // The object's whole length from a ranged response's Content-Range ("bytes 0-65535/123456").
    private static long TotalLength(GetObjectResponse response)
    {
        string? range = response.ContentRange;
        int slash = range?.LastIndexOf('/') ?? -1;
        if (slash >= 0 && long.TryParse(range.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long total))
        {
            return total;
        }

        return response.ContentLength;
    }

    private async Task ReadRangeAsync(string key, string? etag, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest
        {
            BucketName = _location.Bucket,
            Key = _location.Prefix + key,
            ByteRange = new ByteRange(offset, offset + destination.Length - 1),
            EtagToMatch = etag is null ? null : "\"" + etag + "\"",
        };
        try
        {
            await ExecuteAsync("GET", key, async token =>
            {
                using GetObjectResponse response = await _client.GetObjectAsync(request, token).ConfigureAwait(false);
                await response.ResponseStream.ReadExactlyAsync(destination, token).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (PosCudaException e) when (e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.PreconditionFailed })
        {
            throw new SourceChangedException(key, $"the object changed while it was being read (ETag {etag})", e);
        }
        catch (InvalidObjectException e)
        {
            throw new SourceChangedException(key, "the object was deleted while it was being read", e);
        }
    }

    // Ranged GETs of one version of an object.
    private sealed class S3ObjectReader(S3ObjectStore store, string key, long length, string? etag, byte[] prefix)
        : ObjectReader(key, length, etag, prefix)
    {
        public S3ObjectStore Store { get; } = store;

        protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            await Store.ReadRangeAsync(Key, ETag, offset, destination, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Builds the SDK configuration from options and the environment (looked up through <paramref name="environment"/>).</summary>
    internal static AmazonS3Config CreateConfig(ObjectStoreOptions options, Func<string, string?> environment)
    {
        string region = NonEmpty(environment("AWS_REGION")) ?? NonEmpty(environment("AWS_DEFAULT_REGION")) ?? "us-east-1";
        string? endpoint = ResolveEndpoint(options, environment);
        var config = new AmazonS3Config
        {
            // Retries are ours (one pipeline, counted once); the SDK must not retry underneath.
            MaxErrorRetry = 0,
            RetryMode = RequestRetryMode.Standard,
            Timeout = options.S3RequestTimeout,
            MaxConnectionsPerServer = options.S3MaxConnections,
            ForcePathStyle = options.S3PathStyle,
        };
        if (endpoint is null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            return config;
        }

        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            // The URL itself is not echoed: it might carry user information.
            throw new ArgumentException("The S3 endpoint is not an absolute http(s) URL.", nameof(options));
        }

        config.ServiceURL = uri.GetLeftPart(UriPartial.Path);
        config.AuthenticationRegion = region;
        config.ForcePathStyle |= NeedsPathStyle(uri);
        config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
        config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        return config;
    }

    /// <summary>The endpoint to use: the option, else <c>AWS_ENDPOINT_URL_S3</c>, else <c>AWS_ENDPOINT_URL</c>, else none (AWS).</summary>
    internal static string? ResolveEndpoint(ObjectStoreOptions options, Func<string, string?> environment) =>
        NonEmpty(options.S3Endpoint) ?? NonEmpty(environment("AWS_ENDPOINT_URL_S3")) ?? NonEmpty(environment("AWS_ENDPOINT_URL"));

    /// <summary>Whether an endpoint needs path-style addressing: an IP address or localhost cannot take bucket subdomains.</summary>
    internal static bool NeedsPathStyle(Uri endpoint) =>
        endpoint.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
        || endpoint.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || endpoint.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why a failed request should be retried (<c>throttled</c>, <c>server_error</c>, <c>timeout</c>, <c>network</c>), or null when it should not.</summary>
    /// <param name="exception">What the request threw.</param>
    /// <param name="cancellationToken">The caller's token: a cancellation it caused is never retried.</param>
    internal static string? ClassifyRetry(Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case AmazonServiceException service when service.StatusCode != 0:
                int status = (int)service.StatusCode;
                if (status == 429 || status == 503 || IsThrottlingCode(service.ErrorCode))
                {
                    return "throttled";
                }

                if (status >= 500)
                {
                    return "server_error";
                }

                // S3 answers an idle upload with 400 RequestTimeout; that one is worth another try.
                return status == 408 || service.ErrorCode == "RequestTimeout" ? "timeout" : null;
            case OperationCanceledException:
                return cancellationToken.IsCancellationRequested ? null : "timeout";
            case TimeoutException or TimeoutRejectedException:
                return "timeout";
            case HttpRequestException or IOException or SocketException:
                return "network";
            case PosCudaException:
                return null;
            default:
                // The SDK sometimes wraps a transport failure; classify what it wraps.
                return exception.InnerException is { } inner ? ClassifyRetry(inner, cancellationToken) : null;
        }
    }

    private static bool IsThrottlingCode(string? code) =>
        code is "SlowDown" or "Throttling" or "ThrottlingException" or "ThrottledException" or "RequestLimitExceeded"
            or "TooManyRequestsException" or "RequestThrottled" or "RequestThrottledException";

    // Retry (outermost) around a per-attempt timeout, so a hung attempt is cut and retried like any other timeout.
    private static ResiliencePipeline CreatePipeline(ObjectStoreOptions options)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex && ClassifyRetry(ex, args.Context.CancellationToken) is not null),
                OnRetry = static args =>
                {
                    string cause = ClassifyRetry(args.Outcome.Exception!, args.Context.CancellationToken) ?? "network";
                    PipelineTelemetry.StoreRetries.Add(1, new KeyValuePair<string, object?>(RetryCauseTag, cause));
                    return default;
                },
            });
        }

        return builder.AddTimeout(options.S3RequestTimeout).Build();
    }

    private async Task<T> ExecuteAsync<T>(string operation, string key, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (state, token) => await state(token).ConfigureAwait(false), action, cancellationToken).ConfigureAwait(false);
        }
        catch (PosCudaException)
        {
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            throw Translate(ex, operation, key, cancellationToken);
        }
    }

    private PosCudaException Translate(Exception exception, string operation, string key, CancellationToken cancellationToken)
    {
        string where = $"s3://{_location.Bucket}/{_location.Prefix}{key}";
        string? cause = ClassifyRetry(exception, cancellationToken);
        if (cause is not null)
        {
            return new PosCudaException(
                $"S3 {operation} {where} failed ({cause}) after {_maxRetries} retries: {exception.Message}", isTransient: true, exception);
        }

        if (exception is AmazonServiceException service)
        {
            if (service.ErrorCode == "NoSuchBucket")
            {
                return new PosCudaException($"S3 bucket not found: {_location.Bucket}", isTransient: false, exception);
            }

            if (operation == "GET" && (service.ErrorCode == "NoSuchKey" || service.StatusCode == HttpStatusCode.NotFound))
            {
                return new InvalidObjectException(key, "object not found", exception);
            }

            if (service.ErrorCode is "KeyTooLongError" or "InvalidObjectName" or "XMinioInvalidObjectName")
            {
                // The server refuses this key (a stricter S3-compatible store): that object fails, not its batch.
                return new InvalidObjectException(key, $"S3 refused the key: {service.ErrorCode}: {service.Message}", exception);
            }

            return new PosCudaException(
                $"S3 {operation} {where} failed: {(int)service.StatusCode} {service.ErrorCode}: {service.Message}", isTransient: false, exception);
        }

        return new PosCudaException($"S3 {operation} {where} failed: {exception.Message}", isTransient: false, exception);
    }

    private async Task ProduceListingAsync(ChannelWriter<StoredObject> writer, CancellationToken cancellationToken)
    {
        try
        {
            using var walkCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Channel<string> prefixes = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleWriter = true });
            Task walk = Parallel.ForEachAsync(
                prefixes.Reader.ReadAllAsync(walkCancellation.Token),
                new ParallelOptions { MaxDegreeOfParallelism = ListConcurrency, CancellationToken = walkCancellation.Token },
                (prefix, token) => new ValueTask(ListPagesAsync(prefix, delimiter: null, writer, prefixes: null, token)));
            try
            {
                await ListPagesAsync(_location.Prefix, "/", writer, prefixes.Writer, walkCancellation.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                await walkCancellation.CancelAsync().ConfigureAwait(false);
                prefixes.Writer.TryComplete();
                try
                {
                    await walk.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The top-level failure is the one to report.
                }

                throw;
            }

            prefixes.Writer.TryComplete();
            await walk.ConfigureAwait(false);
        }
        finally
        {
            writer.TryComplete();
        }
    }

    private async Task ListPagesAsync(string prefix, string? delimiter, ChannelWriter<StoredObject> writer, ChannelWriter<string>? prefixes, CancellationToken cancellationToken)
    {
        string where = prefix[_location.Prefix.Length..];
        string? continuation = null;
        do
        {
            var request = new ListObjectsV2Request
            {
                BucketName = _location.Bucket,
                Prefix = prefix,
                Delimiter = delimiter,
                ContinuationToken = continuation,

                // Keys may hold characters XML 1.0 cannot carry (control characters): S3 sends them URL-encoded.
                Encoding = EncodingType.Url,
            };
            ListObjectsV2Response response = await ExecuteAsync(
                "LIST", where, token => _client.ListObjectsV2Async(request, token), cancellationToken).ConfigureAwait(false);
            bool encoded = response.Encoding == EncodingType.Url;
            if (response.S3Objects is { } objects)
            {
                foreach (S3Object s3Object in objects)
                {
                    string fullKey = encoded ? DecodeListed(s3Object.Key) : s3Object.Key;
                    if (fullKey.Length <= _location.Prefix.Length || fullKey[^1] == '/'
                        || !fullKey.StartsWith(_location.Prefix, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var stored = new StoredObject(fullKey[_location.Prefix.Length..], s3Object.Size ?? 0, Unquote(s3Object.ETag));
                    await writer.WriteAsync(stored, cancellationToken).ConfigureAwait(false);
                }
            }

            if (prefixes is not null && response.CommonPrefixes is { } common)
            {
                foreach (string commonPrefix in common)
                {
                    prefixes.TryWrite(encoded ? DecodeListed(commonPrefix) : commonPrefix);
                }
            }

            continuation = response.IsTruncated == true ? response.NextContinuationToken : null;
        }
        while (continuation is not null);
    }

    /// <summary>Decodes a key or prefix that a listing sent URL-encoded (<c>encoding-type=url</c>).</summary>
    /// <remarks>
    /// S3 encodes a space as '+' and a '+' as <c>%2B</c> (form encoding); other servers send <c>%20</c>. Both decode
    /// to the stored key, whose bytes are UTF-8. A literal <c>%2F</c> in a key arrives as <c>%252F</c> and stays
    /// <c>%2F</c>: decoded once, never twice.
    /// </remarks>
    internal static string DecodeListed(string encoded) => WebUtility.UrlDecode(encoded);

    // Into a pooled buffer when the length is known, as the folder store reads (the caller disposes the content).
    private static async Task<ObjectContent> ReadBodyAsync(string key, GetObjectResponse response, CancellationToken cancellationToken)
    {
        long length = response.ContentLength;
        if (length > Array.MaxLength)
        {
            throw new InvalidObjectException(key, "object too large to read into memory");
        }

        string? etag = Unquote(response.ETag);
        if (length >= 0)
        {
            ObjectContent content = ObjectContent.Rent((int)length);
            try
            {
                await response.ResponseStream.ReadExactlyAsync(content.Data, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                content.Dispose(); // A failed attempt gives its buffer back before any retry.
                throw;
            }

            content.Complete(content.Length, etag);
            return content;
        }

        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return new ObjectContent(buffer.ToArray(), etag);
    }

    private static MemoryStream CreateReadStream(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out ArraySegment<byte> segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    private static string? Unquote(string? etag) =>
        string.IsNullOrEmpty(etag) ? null : etag.Trim('"');

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    // Starts a multipart upload of the key with its metadata (what S3 stores with the completed object).
    private async Task<string> InitiateUploadAsync(
        string key, string fullKey, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var initiate = new InitiateMultipartUploadRequest { BucketName = _location.Bucket, Key = fullKey };
        foreach (KeyValuePair<string, string> pair in metadata)
        {
            initiate.Metadata.Add(pair.Key, pair.Value);
        }

        return (await ExecuteAsync(
            "PUT", key, token => _client.InitiateMultipartUploadAsync(initiate, token), cancellationToken).ConfigureAwait(false)).UploadId;
    }

    // One part of a multipart upload from memory; returns the part's number and ETag for the completion.
    private async Task<PartETag> UploadPartAsync(
        string key, string fullKey, string uploadId, int number, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        string etag = await ExecuteAsync("PUT", key, async token =>
        {
            using MemoryStream body = CreateReadStream(bytes);
            var request = new UploadPartRequest
            {
                BucketName = _location.Bucket, Key = fullKey, UploadId = uploadId, PartNumber = number, InputStream = body,
            };
            return (await _client.UploadPartAsync(request, token).ConfigureAwait(false)).ETag;
        }, cancellationToken).ConfigureAwait(false);
        return new PartETag(number, etag);
    }
}
