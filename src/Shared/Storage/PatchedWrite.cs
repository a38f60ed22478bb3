namespace PosCuda.Shared.Storage;

/// <summary>What writing a patched copy of an object did.</summary>
/// <param name="ETag">The entity tag of what was written, if the store has one.</param>
/// <param name="BytesWritten">Bytes this process sent to the store (the patches, and any part it had to copy itself).</param>
/// <param name="BytesCopiedByStore">Bytes copied without passing through this process (kernel copy, reflink, S3 part copy).</param>
public sealed record PatchedWrite(string? ETag, long BytesWritten, long BytesCopiedByStore);
