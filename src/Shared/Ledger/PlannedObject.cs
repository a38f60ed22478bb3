namespace PosCuda.Shared.Ledger;

/// <summary>An object a job will protect: its key relative to the source, its class, size and source ETag.</summary>
public sealed record PlannedObject(string Key, string Label, long Size, string? SourceETag);
