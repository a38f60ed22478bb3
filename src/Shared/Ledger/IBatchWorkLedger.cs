namespace PosCuda.Shared.Ledger;

/// <summary>A worker's part of the ledger: keeps its lease alive and reports the batch, fenced by the lease token.</summary>
/// <remarks>A worker whose lease was taken over cannot write (<see cref="LeaseLostException"/>).</remarks>
public interface IBatchWorkLedger
{
    /// <summary>Extends a lease by <paramref name="leaseDuration"/> from now.</summary>
    /// <exception cref="LeaseLostException">The lease token no longer holds the batch.</exception>
    Task<DateTimeOffset> HeartbeatAsync(BatchLease lease, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>Records every object's result and marks the batch done, in one transaction, fenced by the lease token.</summary>
    /// <exception cref="LeaseLostException">The lease token no longer holds the batch; nothing was recorded.</exception>
    Task CompleteBatchAsync(BatchLease lease, IReadOnlyList<ObjectResult> results, CancellationToken cancellationToken);

    /// <summary>Gives a batch back unfinished, fenced by its lease token (all a release needs: a class shard gives back a lost worker's batch by it).</summary>
    /// <param name="batchId">The batch.</param>
    /// <param name="leaseToken">The lease token that holds it.</param>
    /// <param name="error">Why the attempt failed (counts towards dead-lettering), or null for a voluntary release (shutdown), which does not count.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="LeaseLostException">The token no longer holds the batch; nothing changed.</exception>
    Task ReleaseBatchAsync(long batchId, Guid leaseToken, string? error, CancellationToken cancellationToken);

    /// <summary>Gives back the batch of <paramref name="lease"/> unfinished (see the overload by batch and token).</summary>
    Task ReleaseBatchAsync(BatchLease lease, string? error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return ReleaseBatchAsync(lease.BatchId, lease.LeaseToken, error, cancellationToken);
    }
}
