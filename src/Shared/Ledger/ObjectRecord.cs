namespace PosCuda.Shared.Ledger;

/// <summary>One object of a job with its latest result, for manifests and reports.</summary>
public sealed record ObjectRecord(
    long ObjectId,
    string Key,
    string Label,
    ObjectOutcome Outcome,
    string? Reason,
    int? KeyVersion,
    string? SourceETag,
    string? OutputETag,
    long Bytes,
    long ClippedSamples,
    DateTimeOffset? CompletedAt);
