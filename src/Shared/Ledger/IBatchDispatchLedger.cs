namespace PosCuda.Shared.Ledger;

/// <summary>The dispatcher's part of the ledger: hands out batches, rescues lapsed leases and closes finished jobs.</summary>
/// <remarks>Held by the job coordinator and the class shards (the cluster singleton makes the coordinator one; the ledger's fencing keeps
/// every write safe even if two ever acted at once).</remarks>
public interface IBatchDispatchLedger
{
    /// <summary>Claims the next pending batch of a running job (of <paramref name="jobId"/> only, if given).</summary>
    /// <returns>The lease, or null when nothing is claimable now.</returns>
    Task<BatchLease?> ClaimBatchAsync(string workerId, TimeSpan leaseDuration, Guid? jobId, CancellationToken cancellationToken);

    /// <summary>Claims the next pending batch of class <paramref name="label"/> of job <paramref name="jobId"/> (what a class shard hands out).</summary>
    /// <returns>The lease, or null when that class has nothing claimable now.</returns>
    Task<BatchLease?> ClaimClassBatchAsync(string workerId, TimeSpan leaseDuration, Guid jobId, string label, CancellationToken cancellationToken)
        => ClaimClassBatchAsync(workerId, leaseDuration, jobId, label, mergeUpTo: 0, cancellationToken);

    /// <summary>
    /// Claims the next pending batch of class <paramref name="label"/> of job <paramref name="jobId"/> and, when it holds fewer than
    /// <paramref name="mergeUpTo"/> objects, merges further pending batches of that class that were never attempted into it, in batch
    /// order, while the total stays within <paramref name="mergeUpTo"/> and their keys within 1 MiB (a grant carries every key in one
    /// message): one lease over more objects (what a GPU worker asks for).
    /// </summary>
    /// <remarks>
    /// The merged batches' objects move into the claimed batch and their rows go, in the claim's transaction; a batch that failed
    /// before keeps its own attempt count: it is neither merged into another nor grown when it is claimed again. With <paramref name="mergeUpTo"/> 0 (or at most the claimed batch's
    /// size) it is the plain claim.
    /// </remarks>
    /// <returns>The lease, or null when that class has nothing claimable now.</returns>
    Task<BatchLease?> ClaimClassBatchAsync(string workerId, TimeSpan leaseDuration, Guid jobId, string label, int mergeUpTo, CancellationToken cancellationToken);

    /// <summary>Puts batches with expired leases back in play; dead-letters those that reached the job's attempt limit.</summary>
    Task<MaintenanceResult> RescueExpiredLeasesAsync(CancellationToken cancellationToken);

    /// <summary>Puts every leased batch of a job back to pending without counting the attempt.</summary>
    /// <remarks>
    /// Only for a caller that knows no worker holds a lease, such as the single-machine tool that holds an exclusive lock on
    /// its state folder and restarts after a crash. Old lease tokens stop working.
    /// </remarks>
    /// <returns>The batches put back.</returns>
    Task<int> ResetLeasesAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns running jobs whose batches are all done or dead: ready for their manifest.</summary>
    Task<IReadOnlyList<Guid>> FindFinishedJobsAsync(CancellationToken cancellationToken);

    /// <summary>Marks one running job whose batches are all done or dead as completed.</summary>
    /// <returns>False when the job is not running or not finished.</returns>
    /// <remarks>The coordinator writes the manifest first and completes the job after, so a crash between the two only repeats the (idempotent) manifest.</remarks>
    Task<bool> CompleteJobAsync(Guid jobId, CancellationToken cancellationToken);
}
