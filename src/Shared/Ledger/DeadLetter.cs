namespace PosCuda.Shared.Ledger;

/// <summary>A batch that failed too often, with its last error.</summary>
public sealed record DeadLetter(long BatchId, string Label, int Attempts, string? LastError);
