namespace PosCuda.Shared.Ledger;

/// <summary>A claimed batch: every object of one class, held under a lease fenced by <see cref="LeaseToken"/>.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Job">The job's definition, so a worker needs no other state.</param>
/// <param name="BatchId">The batch.</param>
/// <param name="Label">The class every object of the batch belongs to.</param>
/// <param name="LeaseToken">Unique to this claim; every heartbeat and completion must present it.</param>
/// <param name="Attempt">1 for the first claim of the batch, 2 for the next, ...</param>
/// <param name="ExpiresAt">When the lease lapses unless heartbeated.</param>
/// <param name="Objects">The objects still to process.</param>
public sealed record BatchLease(
    Guid JobId,
    JobDefinition Job,
    long BatchId,
    string Label,
    Guid LeaseToken,
    int Attempt,
    DateTimeOffset ExpiresAt,
    IReadOnlyList<BatchObject> Objects);
