namespace PosCuda.Shared.Ledger;

/// <summary>A job as the ledger holds it.</summary>
public sealed record JobRecord(Guid JobId, JobDefinition Definition, JobState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);
