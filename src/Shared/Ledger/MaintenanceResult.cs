namespace PosCuda.Shared.Ledger;

/// <summary>What one pass of lease maintenance did.</summary>
/// <param name="Rescued">Expired leases put back in play.</param>
/// <param name="DeadLettered">Batches given up after too many attempts.</param>
public sealed record MaintenanceResult(int Rescued, int DeadLettered);
