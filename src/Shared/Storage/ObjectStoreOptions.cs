namespace PosCuda.Shared.Storage;

/// <summary>How to reach object stores.</summary>
/// <param name="S3Endpoint">An S3 endpoint URL; default from <c>AWS_ENDPOINT_URL_S3</c> or <c>AWS_ENDPOINT_URL</c>.</param>
/// <param name="S3PathStyle">Force path-style addressing (automatic for IP and localhost endpoints).</param>
/// <param name="MaxRetries">Retries of a throttled, failed (5xx) or timed-out request.</param>
public sealed record ObjectStoreOptions(string? S3Endpoint = null, bool S3PathStyle = false, int MaxRetries = 6);
