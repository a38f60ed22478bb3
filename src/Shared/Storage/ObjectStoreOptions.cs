namespace PosCuda.Shared.Storage;

/// <summary>How to reach object stores.</summary>
/// <param name="S3Endpoint">An S3 endpoint URL; default from <c>AWS_ENDPOINT_URL_S3</c> or <c>AWS_ENDPOINT_URL</c>.</param>
/// <param name="S3PathStyle">Force path-style addressing (automatic for IP and localhost endpoints).</param>
/// <param name="MaxRetries">Retries of a throttled, failed (5xx) or timed-out request.</param>
public sealed record ObjectStoreOptions(string? S3Endpoint = null, bool S3PathStyle = false, int MaxRetries = 6)
{
    /// <summary>Retries of a throttled, failed (5xx) or timed-out request; zero turns retries off.</summary>
    public int MaxRetries
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(MaxRetries));
            field = value;
        }
    } = NonNegative(MaxRetries);

    /// <summary>The first retry delay; later ones grow exponentially (with jitter) up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, nameof(RetryBaseDelay));
            field = value;
        }
    } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two retries.</summary>
    public TimeSpan RetryMaxDelay
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, nameof(RetryMaxDelay));
            field = value;
        }
    } = TimeSpan.FromSeconds(20);

    /// <summary>How long one attempt of an S3 request, body included, may take before it counts as timed out (and is retried); at least 10 ms.</summary>
    public TimeSpan S3RequestTimeout
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.FromMilliseconds(10), nameof(S3RequestTimeout));
            field = value;
        }
    } = TimeSpan.FromSeconds(100);

    /// <summary>The most connections an S3 store opens to its endpoint at once.</summary>
    public int S3MaxConnections
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(S3MaxConnections));
            field = value;
        }
    } = 64;

    private static int NonNegative(int maxRetries)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetries, nameof(MaxRetries));
        return maxRetries;
    }
}
