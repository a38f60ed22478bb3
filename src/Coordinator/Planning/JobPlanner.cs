using System.Diagnostics;
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

    private const int ChunkSize = 50_000;
    private readonly IWorkLedger _ledger;

    public JobPlanner(IWorkLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
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
        int chunkSize = streamEvery > 0 ? streamEvery : ChunkSize;

        // The job's trace: workers start their batch spans under the traceparent stored with the definition.
        using Activity? span = PipelineTelemetry.StartPlanning(definition);
        definition = PipelineTelemetry.WithTraceParent(definition, span);
        Guid jobId = await _ledger.CreateJobAsync(definition, cancellationToken).ConfigureAwait(false);
        PipelineTelemetry.SetJob(span, jobId);
        onCreated?.Invoke(jobId);
        var planned = new List<PlannedObject>(Math.Min(chunkSize, 4096));
        var unbatched = new List<PlanningOutcome>();
        var classes = new HashSet<string>(StringComparer.Ordinal);
        var batchesPerClass = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        long skipped = 0;
        long failed = 0;

        var keys = new KeyChecks(ObjectKeys.CheckerFor(definition.Source), ObjectKeys.CheckerFor(definition.Destination));
        await foreach (StoredObject item in source.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            PlanningOutcome? settled = Classify(item, labels, keys, out PlannedObject? plannedObject);
            if (settled is not null)
            {
                unbatched.Add(settled);
                skipped += settled.Outcome == ObjectOutcome.Skipped ? 1 : 0;
                failed += settled.Outcome == ObjectOutcome.Failed ? 1 : 0;
                continue;
            }

            if (plannedObject is null)
            {
                continue;
            }

            planned.Add(plannedObject);
            if (classes.Add(plannedObject.Label))
            {
                batchesPerClass[plannedObject.Label] = 0;
            }

            total++;
            if (planned.Count >= chunkSize)
            {
                await FlushAsync(jobId, planned, batchSize, batchesPerClass, cancellationToken).ConfigureAwait(false);
                if (streamEvery > 0)
                {
                    await _ledger.OpenPlannedBatchesAsync(jobId, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        PipelineTelemetry.RecordListed(span, total + skipped + failed);
        await FlushAsync(jobId, planned, batchSize, batchesPerClass, cancellationToken).ConfigureAwait(false);
        if (unbatched.Count > 0)
        {
            await _ledger.RecordPlanningOutcomesAsync(jobId, unbatched, cancellationToken).ConfigureAwait(false);
        }

        await _ledger.StartJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        long batches = 0;
        foreach (long count in batchesPerClass.Values)
        {
            batches += count;
        }

        PipelineTelemetry.RecordPlan(span, total, classes.Count, batches, skipped, failed);
        return new PlanSummary(jobId, total, classes.Count, batches, skipped, failed);
    }

    private async Task FlushAsync(
        Guid jobId, List<PlannedObject> planned, int batchSize, Dictionary<string, long> batchesPerClass, CancellationToken cancellationToken)
    {
        if (planned.Count == 0)
        {
            return;
        }

        var perClass = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (PlannedObject item in planned)
        {
            perClass[item.Label] = perClass.GetValueOrDefault(item.Label) + 1;
        }

        foreach ((string label, long count) in perClass)
        {
            batchesPerClass[label] += (count + batchSize - 1) / batchSize;
        }

        await _ledger.AddObjectsAsync(jobId, planned, batchSize, cancellationToken).ConfigureAwait(false);
        planned.Clear();
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
