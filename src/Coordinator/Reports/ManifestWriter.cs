using System.Text.Json;
using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Reports;

/// <summary>Writes a finished job's manifest to <c>.poscuda/manifests/JOB.json</c> under its destination.</summary>
public static class ManifestWriter
{
    /// <summary>The manifest's key under the destination prefix.</summary>
    public static string KeyFor(Guid jobId) => $"{JobPlanner.ReservedPrefix}manifests/{jobId:D}.json";

    /// <summary>Writes the manifest of <paramref name="jobId"/> and returns the job's summary.</summary>
    public static async Task<JobSummary> WriteAsync(IWorkLedger ledger, Guid jobId, IObjectStore destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(destination);
        JobRecord job = await ledger.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false)
            ?? throw new ArgumentException($"No job {jobId} in the ledger.", nameof(jobId));
        using var buffer = new MemoryStream();
        JobSummary summary;
        await using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            // The manifest describes the job as completed: it is written just before the ledger says so.
            JobReportWriter.BeginManifest(json, job with { State = JobState.Completed, FinishedAt = job.FinishedAt ?? DateTimeOffset.UtcNow });
            summary = await JobSummary.ReadAsync(ledger, jobId, record => JobReportWriter.WriteManifestObject(json, record), cancellationToken)
                .ConfigureAwait(false);
            JobReportWriter.EndManifest(json, summary);
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["poscuda-job"] = jobId.ToString("D") };
        await destination.PutAsync(KeyFor(jobId), buffer.GetBuffer().AsMemory(0, (int)buffer.Length), metadata, cancellationToken)
            .ConfigureAwait(false);
        return summary;
    }
}
