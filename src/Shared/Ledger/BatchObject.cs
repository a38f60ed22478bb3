namespace PosCuda.Shared.Ledger;

/// <summary>One object of a claimed batch.</summary>
public sealed record BatchObject(long ObjectId, string Key, long Size, string? SourceETag);
