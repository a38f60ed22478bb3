using System.Diagnostics;
using System.Diagnostics.Metrics;
using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Telemetry;

/// <summary>The one <see cref="ActivitySource"/> and <see cref="Meter"/> of the pipeline, and its instruments.</summary>
/// <remarks>Both are named <c>PosCuda.Pipeline</c>; every role records through this holder.</remarks>
public static class PipelineTelemetry
{
    /// <summary>The name of the activity source and the meter.</summary>
    public const string Name = "PosCuda.Pipeline";

    // Object latency: local folders take about a millisecond, S3 round trips tens to hundreds.
    private static readonly double[] s_objectBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // Batch latency: hundreds of objects, seconds to minutes.
    private static readonly double[] s_batchBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000];

    /// <summary>The source of every span the pipeline starts.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, "1.0.0");

    /// <summary>The meter of every instrument the pipeline records.</summary>
    public static readonly Meter Meter = new(Name, "1.0.0");

    /// <summary>Object-store requests retried, tagged by <c>poscuda.retry.cause</c> (throttled, server_error, timeout, network).</summary>
    public static readonly Counter<long> StoreRetries =
        Meter.CreateCounter<long>("poscuda.store.retries", unit: "{request}", description: "Object-store requests retried, by cause.");

    /// <summary>Objects finished by a worker, tagged by <c>poscuda.outcome</c> (done, failed, error).</summary>
    public static readonly Counter<long> ObjectsProcessed =
        Meter.CreateCounter<long>("poscuda.objects.processed", unit: "{object}", description: "Objects processed by workers, by outcome.");

    /// <summary>Bytes read from sources.</summary>
    public static readonly Counter<long> BytesRead =
        Meter.CreateCounter<long>("poscuda.bytes.read", unit: "By", description: "Bytes read from source objects.");

    /// <summary>Bytes written to destinations.</summary>
    public static readonly Counter<long> BytesWritten =
        Meter.CreateCounter<long>("poscuda.bytes.written", unit: "By", description: "Bytes written to destination objects.");

    /// <summary>Samples clamped when encoding protected clips.</summary>
    public static readonly Counter<long> ClippedSamples =
        Meter.CreateCounter<long>("poscuda.samples.clipped", unit: "{sample}", description: "Samples clamped when encoding protected clips.");

    /// <summary>Time to process one object (get, protect, put), tagged by <c>poscuda.outcome</c>.</summary>
    public static readonly Histogram<double> ObjectDuration = Meter.CreateHistogram(
        "poscuda.object.duration",
        unit: "s",
        description: "Time to process one object, by outcome.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_objectBuckets });

    /// <summary>Time spent in one stage of an object, tagged by <c>poscuda.stage</c> (get, protect, put).</summary>
    public static readonly Histogram<double> StageDuration = Meter.CreateHistogram(
        "poscuda.stage.duration",
        unit: "s",
        description: "Time spent in one stage of an object (get, protect, put).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_objectBuckets });

    /// <summary>Time from claiming a batch to completing or giving it back, tagged by <c>poscuda.outcome</c>.</summary>
    public static readonly Histogram<double> BatchDuration = Meter.CreateHistogram(
        "poscuda.batch.duration",
        unit: "s",
        description: "Time from claiming a batch to completing or giving it back, by outcome.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_batchBuckets });

    /// <summary>Expired leases the coordinator put back in play.</summary>
    public static readonly Counter<long> LeasesRescued =
        Meter.CreateCounter<long>("poscuda.leases.rescued", unit: "{lease}", description: "Expired leases the coordinator put back in play.");

    /// <summary>Batches the coordinator gave up on after too many attempts.</summary>
    public static readonly Counter<long> BatchesDeadLettered =
        Meter.CreateCounter<long>("poscuda.batches.dead_lettered", unit: "{batch}", description: "Batches dead-lettered after too many attempts.");

    /// <summary>The coordinator's latest view of its running jobs, read by the per-job gauges.</summary>
    public static readonly JobGauges JobGauges = new();

    /// <summary>Batches waiting to be claimed, per running job (<c>poscuda.job.id</c>).</summary>
    public static readonly ObservableGauge<long> PendingBatches = Meter.CreateObservableGauge(
        "poscuda.batches.pending", () => JobGauges.ObservePendingBatches(), unit: "{batch}", description: "Batches waiting to be claimed, per job.");

    /// <summary>Batches under a lease, per running job.</summary>
    public static readonly ObservableGauge<long> LeasedBatches = Meter.CreateObservableGauge(
        "poscuda.batches.leased", () => JobGauges.ObserveLeasedBatches(), unit: "{batch}", description: "Batches under a lease, per job.");

    /// <summary>Dead-lettered batches, per running job.</summary>
    public static readonly ObservableGauge<long> DeadBatches = Meter.CreateObservableGauge(
        "poscuda.batches.dead", () => JobGauges.ObserveDeadBatches(), unit: "{batch}", description: "Dead-lettered batches, per job.");

    /// <summary>Objects not yet done, failed or dead, per running job.</summary>
    public static readonly ObservableGauge<long> PendingObjects = Meter.CreateObservableGauge(
        "poscuda.objects.pending", () => JobGauges.ObservePendingObjects(), unit: "{object}", description: "Objects not yet finished, per job.");

    /// <summary>Starts the span of planning a job, or returns null when nobody listens.</summary>
    public static Activity? StartPlanning(JobDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Activity? activity = ActivitySource.StartActivity(SpanNames.Plan, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PipelineTags.Spec, definition.Parameters.Spec);
            activity.SetTag(PipelineTags.KeyId, definition.KeyId);
            activity.SetTag(PipelineTags.KeyVersion, definition.KeyVersion);
        }

        return activity;
    }

    /// <summary>Returns <paramref name="definition"/> carrying the W3C <c>traceparent</c> of <paramref name="planning"/>, so workers join the job's trace.</summary>
    /// <remarks>Unchanged when there is no span or it is not in W3C format.</remarks>
    public static JobDefinition WithTraceParent(JobDefinition definition, Activity? planning)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (planning is null || planning.IdFormat != ActivityIdFormat.W3C || planning.Id is null)
        {
            return definition;
        }

        return definition with { TraceParent = planning.Id };
    }

    /// <summary>Parses a W3C <c>traceparent</c>; returns default (no parent) when null or malformed.</summary>
    public static ActivityContext ParseTraceParent(string? traceParent)
        => traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out ActivityContext context) ? context : default;

    /// <summary>Tags the planning span with the job id once the ledger has assigned it.</summary>
    public static void SetJob(Activity? activity, Guid jobId)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PipelineTags.JobId, jobId.ToString("D"));
        }
    }

    /// <summary>Marks the end of the source listing on the planning span.</summary>
    public static void RecordListed(Activity? activity, long objects)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.AddEvent(new ActivityEvent(SpanNames.ListedEvent, tags: new ActivityTagsCollection { [PipelineTags.PlannedObjects] = objects }));
        }
    }

    /// <summary>Records what planning found on its span.</summary>
    public static void RecordPlan(Activity? activity, long planned, int classes, long batches, long skipped, long failed)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        activity.SetTag(PipelineTags.PlannedObjects, planned);
        activity.SetTag(PipelineTags.PlannedClasses, classes);
        activity.SetTag(PipelineTags.PlannedBatches, batches);
        activity.SetTag(PipelineTags.PlannedSkipped, skipped);
        activity.SetTag(PipelineTags.PlannedFailed, failed);
    }

    /// <summary>Records a maintenance pass: counts rescues and dead letters, and spans the pass when it did anything.</summary>
    /// <param name="result">What the pass did.</param>
    /// <param name="startedAt">When the pass asked the ledger, so the span covers the ledger call.</param>
    public static void RecordMaintenance(MaintenanceResult result, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Rescued == 0 && result.DeadLettered == 0)
        {
            return;
        }

        LeasesRescued.Add(result.Rescued);
        BatchesDeadLettered.Add(result.DeadLettered);
        using Activity? activity = ActivitySource.StartActivity(SpanNames.Rescue, ActivityKind.Internal, parentContext: default, startTime: startedAt);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PipelineTags.LeasesRescued, result.Rescued);
            activity.SetTag(PipelineTags.BatchesDeadLettered, result.DeadLettered);
        }
    }

    /// <summary>Starts timing one stage of the current object (see <see cref="ObjectTelemetry"/>); dispose it when the stage ends.</summary>
    public static StageTimer StartStage(string stage)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        return new StageTimer(stage, Activity.Current, Stopwatch.GetTimestamp());
    }
}
