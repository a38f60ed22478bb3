namespace PosCuda.Shared.Ledger;

/// <summary>What a worker did with one object.</summary>
/// <param name="ObjectId">The object.</param>
/// <param name="Outcome"><see cref="ObjectOutcome.Done"/> or <see cref="ObjectOutcome.Failed"/>.</param>
/// <param name="Reason">Why it failed, naming no secret.</param>
/// <param name="KeyVersion">The key version it was protected with.</param>
/// <param name="SourceETag">The ETag of the bytes read.</param>
/// <param name="OutputETag">The ETag of the bytes written.</param>
/// <param name="Bytes">Bytes written (or read, when failed).</param>
/// <param name="ClippedSamples">Samples clamped when encoding.</param>
public sealed record ObjectResult(
    long ObjectId,
    ObjectOutcome Outcome,
    string? Reason,
    int KeyVersion,
    string? SourceETag,
    string? OutputETag,
    long Bytes,
    long ClippedSamples)
{
    /// <summary>Bytes this process read from the source store for the object (headers, the patch and its context), or -1 when not counted.</summary>
    /// <remarks>Not kept in the ledger: telemetry and this run's report count it.</remarks>
    public long BytesRead { get; init; } = -1;

    /// <summary>Bytes this process wrote to the destination store for the object, or -1 when not counted; bytes the
    /// store copied by itself (kernel copy, S3 part copy) are not among them.</summary>
    public long BytesWritten { get; init; } = -1;
}
