namespace PosCuda.Shared.Ledger;

/// <summary>Reads jobs, their progress and their objects; writes nothing.</summary>
/// <remarks>For status, reports and manifests.</remarks>
public interface ILedgerReader
{
    /// <summary>Returns a job, or null.</summary>
    Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns every job, newest first.</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(CancellationToken cancellationToken);

    /// <summary>Returns a job's progress.</summary>
    Task<JobStatus?> GetJobStatusAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Returns each class's batch counts of a job: cheap (batches only, no object rows), for dispatching every second.</summary>
    Task<IReadOnlyList<ClassBatches>> GetClassBatchesAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Streams every object of a job with its result, ordered by key.</summary>
    IAsyncEnumerable<ObjectRecord> ReadObjectsAsync(Guid jobId, CancellationToken cancellationToken);
}
