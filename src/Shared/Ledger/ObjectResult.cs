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
    long ClippedSamples);
