using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PosCuda.Coordinator.Reports;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Coordinator.Maintenance;

/// <summary>The coordinator role: while it holds the leader lease, rescues expired leases, dead-letters poison batches, finishes jobs and writes their manifests.</summary>
/// <remarks>Any number may run: the ledger's leader lease lets exactly one act at a time.</remarks>
public sealed class CoordinatorLoop
{
    private readonly IWorkLedger _ledger;
    private readonly ObjectStoreCache _stores;
    private readonly ILogger _logger;
    private readonly string _holderId;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _leadershipTtl;

    public CoordinatorLoop(IWorkLedger ledger, ObjectStoreCache stores, string holderId, TimeSpan interval, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentException.ThrowIfNullOrWhiteSpace(holderId);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromMilliseconds(10));
        _ledger = ledger;
        _stores = stores;
        _holderId = holderId;
        _interval = interval;
        _leadershipTtl = interval * 5 < TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : interval * 5;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Raised after a job's manifest is written.</summary>
    public event Action<JobSummary>? JobCompleted;

    /// <summary>Runs one maintenance pass if this coordinator is the leader.</summary>
    /// <returns>Whether it was the leader.</returns>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        if (!await _ledger.TryAcquireLeadershipAsync(_holderId, _leadershipTtl, cancellationToken).ConfigureAwait(false))
        {
            PipelineTelemetry.JobGauges.Clear(); // Only the acting coordinator reports per-job gauges.
            return false;
        }

        DateTimeOffset rescueStarted = DateTimeOffset.UtcNow;
        MaintenanceResult maintenance = await _ledger.RescueExpiredLeasesAsync(cancellationToken).ConfigureAwait(false);
        PipelineTelemetry.RecordMaintenance(maintenance, rescueStarted);
        if (maintenance.Rescued > 0 || maintenance.DeadLettered > 0)
        {
            _logger.LogWarning("Rescued {Rescued} expired leases; dead-lettered {Dead} batches", maintenance.Rescued, maintenance.DeadLettered);
        }

        foreach (Guid jobId in await _ledger.FindFinishedJobsAsync(cancellationToken).ConfigureAwait(false))
        {
            // Manifest first, completion after: a coordinator that dies in between leaves the job running, and the next
            // pass (of any coordinator) writes the same manifest again and completes it.
            await CompleteJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        }

        await RefreshGaugesAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Runs passes every interval until cancelled; survives ledger outages.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        bool wasLeader = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                bool leader = await RunOnceAsync(cancellationToken).ConfigureAwait(false);
                if (leader != wasLeader)
                {
                    _logger.LogInformation(leader ? "{Holder} is now the acting coordinator" : "{Holder} is standing by", _holderId);
                    wasLeader = leader;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (PosCudaException e) when (e.IsTransient)
            {
                _logger.LogWarning("Maintenance pass failed ({Error}); retrying", e.Message);
            }

            try
            {
                await Task.Delay(_interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RefreshGaugesAsync(CancellationToken cancellationToken)
    {
        if (!PipelineTelemetry.PendingBatches.Enabled)
        {
            return; // Nobody collects the gauges: spare the ledger the status queries.
        }

        var running = new List<JobStatus>();
        foreach (JobRecord job in await _ledger.ListJobsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (job.State == JobState.Running && await _ledger.GetJobStatusAsync(job.JobId, cancellationToken).ConfigureAwait(false) is JobStatus status)
            {
                running.Add(status);
            }
        }

        PipelineTelemetry.JobGauges.Update(running);
    }

    private async Task CompleteJobAsync(Guid jobId, CancellationToken cancellationToken)
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
