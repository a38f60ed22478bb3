using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Engine.Processing;

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
        // The JSON goes straight into one growing buffer that is then written as is.
        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        JobSummary summary;
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, SkipValidation = true }))
        {
            // The manifest describes the job as completed: it is written just before the ledger says so.
            JobReportWriter.BeginManifest(json, job with { State = JobState.Completed, FinishedAt = job.FinishedAt ?? DateTimeOffset.UtcNow });
            summary = await WriteObjectsAsync(ledger, jobId, json, cancellationToken).ConfigureAwait(false);
            JobReportWriter.EndManifest(json, summary);
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { [OutputMetadata.Job] = jobId.ToString("D") };
        await destination.PutAsync(KeyFor(jobId), buffer.WrittenMemory, metadata, cancellationToken).ConfigureAwait(false);
        return summary;
    }

    // Reading the ledger and writing JSON take about as long as each other, and this is the one step of a job that
    // nothing else overlaps: the ledger is read on this thread while another writes the JSON, in chunks.
    private static async Task<JobSummary> WriteObjectsAsync(IWorkLedger ledger, Guid jobId, Utf8JsonWriter json, CancellationToken cancellationToken)
    {
        const int ChunkSize = 1024;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var chunks = new BlockingCollection<ObjectRecord[]>(boundedCapacity: 16);
        Task writing = Task.Run(
            () =>
            {
                try
                {
                    foreach (ObjectRecord[] chunk in chunks.GetConsumingEnumerable(stop.Token))
                    {
                        foreach (ObjectRecord record in chunk)
                        {
                            JobReportWriter.WriteManifestObject(json, record);
                        }
                    }
                }
                catch
                {
                    stop.Cancel(); // Unblocks the reader.
                    throw;
                }
            },
            CancellationToken.None);

        var pending = new List<ObjectRecord>(ChunkSize);
        JobSummary summary;
        try
        {
            summary = await JobSummary.ReadAsync(
                ledger,
                jobId,
                record =>
                {
                    pending.Add(record);
                    if (pending.Count == ChunkSize)
                    {
                        chunks.Add([.. pending], stop.Token);
                        pending.Clear();
                    }
                },
                stop.Token).ConfigureAwait(false);
            chunks.Add([.. pending], stop.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Only a failing writer cancels on its own, and it is ending: its failure is the one to report.
            await writing.ConfigureAwait(false);
            throw;
        }
        finally
        {
            chunks.CompleteAdding();
        }

        await writing.ConfigureAwait(false);
        return summary;
    }
}
