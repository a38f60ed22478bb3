using PosCuda.Shared.Ledger;

namespace PosCuda.Coordinator.Reports;

/// <summary>The totals of a job, read from the ledger: what was protected, failed, skipped, and why.</summary>
public sealed class JobSummary
{
    private readonly List<ObjectRecord> _failures = [];

    /// <summary>The job (as read when the summary was made, or after its completion).</summary>
    public required JobRecord Job { get; set; }

    /// <summary>Objects protected and written.</summary>
    public long Protected { get; private set; }

    /// <summary>Rekey: objects re-protected under the active version (by this run or an earlier attempt of the job).</summary>
    public long Rekeyed { get; private set; }

    /// <summary>Rekey: objects left as they were (under another version or key).</summary>
    public long Untouched { get; private set; }

    /// <summary>Objects rejected (bad input, no label) or dead-lettered.</summary>
    public long Failed { get; private set; }

    /// <summary>Objects left out (not audio).</summary>
    public long Skipped { get; private set; }

    /// <summary>Objects not finished yet.</summary>
    public long Pending { get; private set; }

    /// <summary>Samples clamped over all protected objects.</summary>
    public long ClippedSamples { get; private set; }

    /// <summary>Bytes written.</summary>
    public long Bytes { get; private set; }

    /// <summary>Key versions that protected objects of this job (one, unless something is wrong).</summary>
    public SortedSet<int> KeyVersions { get; } = [];

    /// <summary>Every failed or dead object, with its reason, ordered by key.</summary>
    public IReadOnlyList<ObjectRecord> Failures => _failures;

    /// <summary>Reads a job's objects and totals them; <paramref name="onObject"/> sees each one (for manifests).</summary>
    public static async Task<JobSummary> ReadAsync(
        IWorkLedger ledger, Guid jobId, Action<ObjectRecord>? onObject, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        JobRecord job = await ledger.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false)
            ?? throw new ArgumentException($"No job {jobId} in the ledger.", nameof(jobId));
        var summary = new JobSummary { Job = job };
        await foreach (ObjectRecord record in ledger.ReadObjectsAsync(jobId, cancellationToken).ConfigureAwait(false))
        {
            summary.Add(record);
            onObject?.Invoke(record);
        }

        return summary;
    }

    private void Add(ObjectRecord record)
    {
        switch (record.Outcome)
        {
            case ObjectOutcome.Done:
                Protected++;
                if (Job.Definition.Kind == JobKind.Rekey)
                {
                    // A rekey records an object it left under another version as done, without an output tag.
                    if (record.OutputETag is null)
                    {
                        Untouched++;
                    }
                    else
                    {
                        Rekeyed++;
                    }
                }

                ClippedSamples += record.ClippedSamples;
                Bytes += record.Bytes;
                if (record.KeyVersion is int version)
                {
                    KeyVersions.Add(version);
                }

                break;
            case ObjectOutcome.Failed:
            case ObjectOutcome.Dead:
                Failed++;
                _failures.Add(record);
                break;
            case ObjectOutcome.Skipped:
                Skipped++;
                break;
            default:
                Pending++;
                break;
        }
    }
}
