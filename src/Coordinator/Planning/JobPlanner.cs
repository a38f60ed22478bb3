using System.Diagnostics;
using System.Text;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Coordinator.Planning;

/// <summary>Plans a job: lists the source, resolves each object's label and records per-class batches in the ledger.</summary>
public sealed class JobPlanner
{
    /// <summary>The folder, under a destination, where the pipeline keeps its own objects (manifests).</summary>
    public const string ReservedPrefix = ".poscuda/";

    // Objects recorded per transaction: what an interrupted planning keeps, and the granularity it resumes at.
    private const int ChunkSize = 10_000;
    private readonly IWorkLedger _ledger;
    private readonly int _chunkSize;

    /// <summary>Creates a planner over <paramref name="ledger"/>.</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="chunkSize">Listed objects recorded per transaction when batches are not streamed (default 10,000).</param>
    public JobPlanner(IWorkLedger ledger, int chunkSize = ChunkSize)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        _ledger = ledger;
        _chunkSize = chunkSize;
    }

    /// <summary>Creates, fills and starts a job.</summary>
    public Task<PlanSummary> PlanAsync(
        JobDefinition definition, IObjectStore source, LabelRule labels, int batchSize, CancellationToken cancellationToken)
        => PlanAsync(definition, source, labels, batchSize, streamEvery: 0, onCreated: null, cancellationToken);

    /// <summary>Creates, fills and starts a job; with <paramref name="streamEvery"/> &gt; 0, batches become claimable every that many objects while listing goes on.</summary>
    /// <param name="definition">The job.</param>
    /// <param name="source">Where to list objects.</param>
    /// <param name="labels">The label rule.</param>
    /// <param name="batchSize">Objects per batch.</param>
    /// <param name="streamEvery">Open batches to workers every this many planned objects (0: only when planning ends).</param>
    /// <param name="onCreated">Told the job id as soon as the job exists, so workers can start on it.</param>
    /// <param name="cancellationToken">Cancels planning.</param>
    public async Task<PlanSummary> PlanAsync(
        JobDefinition definition, IObjectStore source, LabelRule labels, int batchSize, int streamEvery, Action<Guid>? onCreated, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(streamEvery);

        // The job's trace: workers start their batch spans under the traceparent stored with the definition.
        using Activity? span = PipelineTelemetry.StartPlanning(definition);
        definition = PipelineTelemetry.WithTraceParent(definition, span);
        Guid jobId = await _ledger.CreateJobAsync(definition, cancellationToken).ConfigureAwait(false);
        onCreated?.Invoke(jobId);
        var nothingYet = new PlanningProgress(null, 0, 0, 0, 0, []);
        return await FillAsync(jobId, definition, nothingYet, span, source, labels, batchSize, streamEvery, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finishes planning a job an earlier run left in <see cref="JobState.Planning"/>, after the last key it recorded, and starts it.</summary>
    /// <remarks>
    /// Listings are in key order and every chunk the earlier run recorded went in with one transaction, so the ledger holds
    /// the listing up to its greatest key and nothing after it: keys up to that one are not planned again, batches already
    /// opened (or finished by workers) stay as they are. A source that changed since may differ; the ledger refuses a key
    /// twice in a job rather than planning it twice.
    /// </remarks>
    public async Task<PlanSummary> ResumeAsync(
        Guid jobId, IObjectStore source, LabelRule labels, int batchSize, int streamEvery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(streamEvery);
        JobRecord job = await _ledger.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false)
            ?? throw new ArgumentException($"The ledger has no job {jobId}.", nameof(jobId));
        using Activity? span = PipelineTelemetry.StartPlanning(job.Definition);
        PlanningProgress progress = await _ledger.GetPlanningProgressAsync(jobId, cancellationToken).ConfigureAwait(false);
        return await FillAsync(jobId, job.Definition, progress, span, source, labels, batchSize, streamEvery, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PlanSummary> FillAsync(
        Guid jobId, JobDefinition definition, PlanningProgress earlier, Activity? span, IObjectStore source, LabelRule labels, int batchSize, int streamEvery, CancellationToken cancellationToken)
    {
        PipelineTelemetry.SetJob(span, jobId);
        int chunkSize = streamEvery > 0 ? streamEvery : _chunkSize;
        var planned = new List<PlannedObject>(Math.Min(chunkSize, 4096));
        var unbatched = new List<PlanningOutcome>();
        var classes = new HashSet<string>(earlier.Labels, StringComparer.Ordinal);
        long total = earlier.Planned;
        long skipped = earlier.Skipped;
        long failed = earlier.Failed;
        long batches = earlier.Batches;

        var keys = new KeyChecks(ObjectKeys.CheckerFor(definition.Source), ObjectKeys.CheckerFor(definition.Destination));
        await foreach (StoredObject item in source.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (earlier.LastKey is { } last && CompareKeys(item.Key, last) <= 0)
            {
                continue;
            }

            PlanningOutcome? settled = Classify(item, labels, keys, out PlannedObject? plannedObject);
            if (settled is not null)
            {
                unbatched.Add(settled);
                skipped += settled.Outcome == ObjectOutcome.Skipped ? 1 : 0;
                failed += settled.Outcome == ObjectOutcome.Failed ? 1 : 0;
            }
            else if (plannedObject is not null)
            {
                planned.Add(plannedObject);
                classes.Add(plannedObject.Label);
                total++;
            }

            if (planned.Count + unbatched.Count >= chunkSize)
            {
                batches += await FlushAsync(jobId, planned, unbatched, batchSize, cancellationToken).ConfigureAwait(false);
                if (streamEvery > 0)
                {
                    await _ledger.OpenPlannedBatchesAsync(jobId, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        PipelineTelemetry.RecordListed(span, total + skipped + failed);
        batches += await FlushAsync(jobId, planned, unbatched, batchSize, cancellationToken).ConfigureAwait(false);
        await _ledger.StartJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        PipelineTelemetry.RecordPlan(span, total, classes.Count, batches, skipped, failed);
        return new PlanSummary(jobId, total, classes.Count, batches, skipped, failed);
    }

    // One chunk of the listing in one transaction: a killed planning leaves the listing up to some key, never a gap.
    // The ledger cuts the batches and says how many it created.
    private async Task<int> FlushAsync(
        Guid jobId, List<PlannedObject> planned, List<PlanningOutcome> unbatched, int batchSize, CancellationToken cancellationToken)
    {
        int created = await _ledger.PlanObjectsAsync(jobId, planned, unbatched, batchSize, cancellationToken).ConfigureAwait(false);
        planned.Clear();
        unbatched.Clear();
        return created;
    }

    // Keys in code point order: the UTF-8 byte order in which S3 lists and both ledgers compare (COLLATE "C", BINARY).
    // UTF-16 ordinal order differs from it only between surrogate pairs and U+E000..U+FFFF.
    private static int CompareKeys(string a, string b)
    {
        StringRuneEnumerator left = a.EnumerateRunes();
        StringRuneEnumerator right = b.EnumerateRunes();
        while (true)
        {
            bool moreLeft = left.MoveNext();
            bool moreRight = right.MoveNext();
            if (!moreLeft || !moreRight)
            {
                return moreLeft ? 1 : moreRight ? -1 : 0;
            }

            int order = left.Current.Value.CompareTo(right.Current.Value);
            if (order != 0)
            {
                return order;
            }
        }
    }

    /// <summary>
    /// What planning makes of one listed object: <c>null</c> and <paramref name="planned"/> set for a labelled
    /// <c>.wav</c> object; a skipped (not <c>.wav</c>) or failed (no label) outcome; or <c>null</c> and no object for a
    /// key under <see cref="ReservedPrefix"/>, which is the pipeline's own. <c>poscuda quality</c> and <c>audit</c>
    /// list datasets by the same rule.
    /// </summary>
    public static PlanningOutcome? Classify(StoredObject item, LabelRule labels, out PlannedObject? planned)
        => Classify(item, labels, keys: null, out planned);

    /// <summary>
    /// As <see cref="Classify(StoredObject, LabelRule, out PlannedObject?)"/>, and with <paramref name="keys"/> a
    /// <c>.wav</c> object that the job's source or destination cannot hold (<see cref="ObjectKeys.Check"/>: a folder
    /// and a key with a '..' segment, a name over 255 bytes, ...) fails here with the reason, before any worker sees it.
    /// </summary>
    public static PlanningOutcome? Classify(StoredObject item, LabelRule labels, KeyChecks? keys, out PlannedObject? planned)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(labels);
        planned = null;
        if (item.Key.StartsWith(ReservedPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        if (item.Key.Contains('\0', StringComparison.Ordinal))
        {
            // Checked first: no ledger row can hold a NUL, so the key is recorded with it escaped.
            return new PlanningOutcome(ObjectKeys.Recordable(item.Key), ObjectOutcome.Failed, "key contains a NUL character (recorded as \\u0000)");
        }

        if (!item.Key.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
        {
            return new PlanningOutcome(item.Key, ObjectOutcome.Skipped, "not a .wav object");
        }

        if (keys is not null && keys.Reason(item.Key) is { } unusable)
        {
            return new PlanningOutcome(item.Key, ObjectOutcome.Failed, unusable);
        }

        string? label = labels.Resolve(item.Key, out string? reason);
        if (label is null)
        {
            return new PlanningOutcome(item.Key, ObjectOutcome.Failed, reason ?? "no label");
        }

        planned = new PlannedObject(item.Key, label, item.Size, item.ETag);
        return null;
    }
}
