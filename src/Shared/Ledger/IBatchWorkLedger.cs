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

    /// <summary>Gives a batch back unfinished.</summary>
    /// <param name="lease">The lease.</param>
    /// <param name="error">Why the attempt failed (counts towards dead-lettering), or null for a voluntary release (shutdown), which does not count.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task ReleaseBatchAsync(BatchLease lease, string? error, CancellationToken cancellationToken);
}
