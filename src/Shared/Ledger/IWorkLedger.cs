namespace PosCuda.Shared.Ledger;

/// <summary>The distributed engine's memory: jobs, batches under fenced leases, per-object results.</summary>
/// <remarks>
/// Implementations: SQLite (embedded, one machine) and PostgreSQL (many nodes). Every method is safe to call
/// from many processes at once; none holds a transaction open between calls.
/// </remarks>
public interface IWorkLedger : IAsyncDisposable
{
    /// <summary>Describes where the ledger lives, without any password, for logs.</summary>
    string Describe();

    /// <summary>Creates or upgrades the schema (idempotent, safe under concurrency).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Records a new job in <see cref="JobState.Planning"/>.</summary>
    Task<Guid> CreateJobAsync(JobDefinition definition, CancellationToken cancellationToken);

    /// <summary>Adds objects to a planning job in bulk, grouped into batches of at most <paramref name="batchSize"/> objects of one class.</summary>
    /// <remarks>Called once with the whole listing, or repeatedly with chunks of it; a batch never mixes classes.</remarks>
    Task AddObjectsAsync(Guid jobId, IReadOnlyList<PlannedObject> objects, int batchSize, CancellationToken cancellationToken);

    /// <summary>Records objects that planning settled without a batch (skipped or failed), so manifests and reports list them.</summary>
    /// <remarks>
    /// They belong to no batch and no class: <see cref="ReadObjectsAsync"/> returns them (with an empty label), the per-class
    /// counts of <see cref="GetJobStatusAsync"/> do not. Only while the job is planning; a key may be recorded once per job.
    /// </remarks>
    Task RecordPlanningOutcomesAsync(Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken cancellationToken);

    /// <summary>Makes the batches planned so far claimable while planning goes on (streamed planning).</summary>
    /// <remarks>The job stays <see cref="JobState.Planning"/>, so it cannot complete before <see cref="StartJobAsync"/>; opened batches are no longer topped up by later <see cref="AddObjectsAsync"/> calls.</remarks>
    Task OpenPlannedBatchesAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Ends planning: the job's batches become claimable.</summary>
    Task StartJobAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns a job, or null.</summary>
    Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns every job, newest first.</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken);

    /// <summary>Returns the newest job that is not completed and has the same source, destination, label rule, parameters and key, or null.</summary>
    /// <remarks>Lets a re-run of the same command resume its job instead of starting over; attempt limits and trace parents are not compared.</remarks>
    Task<Guid?> FindJobAsync(JobDefinition definition, CancellationToken cancellationToken);

    /// <summary>Claims the next pending batch of a running job (of <paramref name="jobId"/> only, if given).</summary>
    /// <returns>The lease, or null when nothing is claimable now.</returns>
    Task<BatchLease?> ClaimBatchAsync(string workerId, TimeSpan leaseDuration, Guid? jobId, CancellationToken cancellationToken);

    /// <summary>Claims the next pending batch of class <paramref name="label"/> of job <paramref name="jobId"/> (what a class shard hands out).</summary>
    /// <returns>The lease, or null when that class has nothing claimable now.</returns>
    Task<BatchLease?> ClaimClassBatchAsync(string workerId, TimeSpan leaseDuration, Guid jobId, string label, CancellationToken cancellationToken);

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

    /// <summary>Takes or keeps the coordinator lease row for <paramref name="holderId"/>.</summary>
    /// <returns>True while <paramref name="holderId"/> is the one coordinator that may act.</returns>
    Task<bool> TryAcquireLeadershipAsync(string holderId, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Puts batches with expired leases back in play; dead-letters those that reached the job's attempt limit.</summary>
    Task<MaintenanceResult> RescueExpiredLeasesAsync(CancellationToken cancellationToken);

    /// <summary>Puts every leased batch of a job back to pending without counting the attempt.</summary>
    /// <remarks>
    /// Only for a caller that knows no worker holds a lease, such as the single-machine tool that holds an exclusive lock on
    /// its state folder and restarts after a crash. Old lease tokens stop working.
    /// </remarks>
    /// <returns>The batches put back.</returns>
    Task<int> ResetLeasesAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Marks running jobs whose batches are all done or dead as completed.</summary>
    /// <returns>The jobs completed by this call.</returns>
    Task<IReadOnlyList<Guid>> CompleteFinishedJobsAsync(CancellationToken cancellationToken);

    /// <summary>Returns running jobs whose batches are all done or dead: ready for their manifest.</summary>
    Task<IReadOnlyList<Guid>> FindFinishedJobsAsync(CancellationToken cancellationToken);

    /// <summary>Marks one running job whose batches are all done or dead as completed.</summary>
    /// <returns>False when the job is not running or not finished.</returns>
    /// <remarks>The coordinator writes the manifest first and completes the job after, so a crash between the two only repeats the (idempotent) manifest.</remarks>
    Task<bool> CompleteJobAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns a job's progress.</summary>
    Task<JobStatus?> GetJobStatusAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Streams every object of a job with its result, ordered by key.</summary>
    IAsyncEnumerable<ObjectRecord> ReadObjectsAsync(Guid jobId, CancellationToken cancellationToken);
}
