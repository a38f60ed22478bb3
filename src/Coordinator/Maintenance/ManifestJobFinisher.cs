using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PosCuda.Coordinator.Reports;
using PosCuda.Engine.Hosting;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Maintenance;

/// <summary>Finishes a job for the job coordinator: writes its manifest into the destination, then marks it completed.</summary>
/// <remarks>Manifest first, completion after: a coordinator that dies in between leaves the job running, and the next pass writes the same manifest again.</remarks>
public sealed class ManifestJobFinisher : IJobFinisher
{
    private readonly IWorkLedger _ledger;
    private readonly ObjectStoreCache _stores;
    private readonly ILogger _logger;

    /// <summary>Creates the finisher.</summary>
    public ManifestJobFinisher(IWorkLedger ledger, ObjectStoreCache stores, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(stores);
        _ledger = ledger;
        _stores = stores;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Raised after a job's manifest is written and the job completed.</summary>
    public event Action<JobSummary>? JobCompleted;

    /// <inheritdoc />
    public async Task FinishAsync(Guid jobId, CancellationToken cancellationToken)
    {
        JobRecord? job = await _ledger.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is null)
        {
            return;
        }

        JobSummary summary = await ManifestWriter.WriteAsync(_ledger, jobId, _stores.Get(job.Definition.Destination), cancellationToken)
            .ConfigureAwait(false);
        if (!await _ledger.CompleteJobAsync(jobId, CancellationToken.None).ConfigureAwait(false))
        {
            return;
        }

        summary.Job = await _ledger.GetJobAsync(jobId, CancellationToken.None).ConfigureAwait(false) ?? summary.Job;
        _logger.LogInformation(
            "Job {JobId} completed: {Protected} protected, {Failed} failed, {Skipped} skipped; manifest {Key}",
            jobId, summary.Protected, summary.Failed, summary.Skipped, ManifestWriter.KeyFor(jobId));
        JobCompleted?.Invoke(summary);
    }
}
