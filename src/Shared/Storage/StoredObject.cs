namespace PosCuda.Shared.Storage;

/// <summary>One object found by a listing.</summary>
/// <param name="Key">The key relative to the store's prefix, '/'-separated, never starting with '/'.</param>
/// <param name="Size">Bytes.</param>
/// <param name="ETag">The store's entity tag (S3 ETag without quotes; for files a stable fingerprint), if any.</param>
public sealed record StoredObject(string Key, long Size, string? ETag);
