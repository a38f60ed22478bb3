using System.Diagnostics;
using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Telemetry;

/// <summary>The span and metrics of one claimed batch on a worker, from the claim to its completion or release.</summary>
/// <remarks>
/// The span joins the job's trace (the W3C <c>traceparent</c> the planner stored in <see cref="JobDefinition.TraceParent"/>)
/// and becomes the current span, so object spans nest under it. Dispose it once the batch is finished.
/// </remarks>
public sealed class BatchTelemetry : IDisposable
{
    private readonly Activity? _activity;
    private readonly DateTimeOffset _claimedSince;
    private string _outcome = "released";
    private bool _disposed;

    private BatchTelemetry(Activity? activity, DateTimeOffset claimedSince)
    {
        _activity = activity;
        _claimedSince = claimedSince;
    }

    /// <summary>The batch's span, or null when not traced.</summary>
    public Activity? Activity => _activity;

    /// <summary>The outcome recorded so far: completed, failed, released or lost.</summary>
    public string Outcome => _outcome;

    /// <summary>Starts a batch's span, dated from when the claim was asked for.</summary>
    /// <param name="lease">The claimed batch.</param>
    /// <param name="workerId">The worker's name in the ledger.</param>
    /// <param name="claimedSince">When the worker asked the ledger for this batch.</param>
    /// <param name="traceParent">The W3C traceparent the claim arrived with (the shard's claim span), or null to join the job's trace directly.</param>
    public static BatchTelemetry Start(BatchLease lease, string workerId, DateTimeOffset claimedSince, string? traceParent = null)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ActivityContext parent = PipelineTelemetry.ParseTraceParent(traceParent ?? lease.Job.TraceParent);
        Activity? activity = PipelineTelemetry.ActivitySource.StartActivity(
            SpanNames.Batch, ActivityKind.Consumer, parent, tags: null, links: null, startTime: claimedSince);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PipelineTags.JobId, lease.JobId.ToString("D"));
            activity.SetTag(PipelineTags.BatchId, lease.BatchId);
            activity.SetTag(PipelineTags.Class, lease.Label);
            activity.SetTag(PipelineTags.BatchAttempt, lease.Attempt);
            activity.SetTag(PipelineTags.BatchObjects, lease.Objects.Count);
            activity.SetTag(PipelineTags.WorkerId, workerId);
            activity.SetTag(PipelineTags.KeyId, lease.Job.KeyId);
            activity.SetTag(PipelineTags.KeyVersion, lease.Job.KeyVersion);
            activity.SetTag(PipelineTags.Spec, lease.Job.Parameters.Spec);
            activity.AddEvent(new ActivityEvent(SpanNames.ClaimedEvent));
        }

        return new BatchTelemetry(activity, claimedSince);
    }

    /// <summary>Starts the child span of recording the batch in the ledger (completion or release); dispose it when done.</summary>
    public Activity? StartCompletion()
        => _activity is null ? null : PipelineTelemetry.ActivitySource.StartActivity(SpanNames.BatchComplete, ActivityKind.Client);

    /// <summary>The batch's objects were all processed; their results are being recorded.</summary>
    public void Completed(IReadOnlyList<ObjectResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        _outcome = "completed";
        if (_activity is { IsAllDataRequested: true })
        {
            int failed = 0;
            foreach (ObjectResult result in results)
            {
                failed += result.Outcome == ObjectOutcome.Done ? 0 : 1;
            }

            _activity.SetTag(PipelineTags.BatchFailedObjects, failed);
        }
    }

    /// <summary>The batch is being given back: <paramref name="error"/> counts towards dead-lettering; null is a voluntary release.</summary>
    public void Released(string? error)
    {
        _outcome = error is null ? "released" : "failed";
        if (error is not null && _activity is { IsAllDataRequested: true })
        {
            _activity.SetStatus(ActivityStatusCode.Error, error);
            _activity.SetTag(PipelineTags.ErrorType, "batch_failed");
        }
    }

    /// <summary>The lease was lost to another worker; nothing is recorded for this attempt.</summary>
    public void Lost() => _outcome = "lost";

    /// <summary>Records the batch duration by outcome and ends the span.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var outcomeTag = new KeyValuePair<string, object?>(PipelineTags.Outcome, _outcome);
        PipelineTelemetry.BatchDuration.Record(Math.Max(0, (DateTimeOffset.UtcNow - _claimedSince).TotalSeconds), outcomeTag);
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.SetTag(PipelineTags.Outcome, _outcome);
        }

        _activity?.Dispose();
    }
}
