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
}
