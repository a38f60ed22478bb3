using System.Diagnostics;
using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Telemetry;

/// <summary>The span and metrics of one object of a batch: started before its GET, completed with its result.</summary>
/// <remarks>
/// Metrics are recorded whether or not the span is sampled. Dispose it exactly once, with <c>using</c>; call
/// <see cref="Complete"/> with the result, or <see cref="Fail"/> when an error aborts the batch.
/// </remarks>
public readonly struct ObjectTelemetry : IDisposable
{
    private readonly Activity? _activity;
    private readonly long _started;

    private ObjectTelemetry(Activity? activity, long started)
    {
        _activity = activity;
        _started = started;
    }

    /// <summary>The object's span, or null when not traced.</summary>
    public Activity? Activity => _activity;

    /// <summary>Starts an object's span as a child of the current span (the batch's).</summary>
    public static ObjectTelemetry Start(BatchObject item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Activity? activity = PipelineTelemetry.ActivitySource.StartActivity(SpanNames.Object, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PipelineTags.ObjectKey, item.Key);
        }

        return new ObjectTelemetry(activity, Stopwatch.GetTimestamp());
    }

    /// <summary>Records the object's result: outcome, bytes, clipped samples and latency.</summary>
    public void Complete(ObjectResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        bool done = result.Outcome == ObjectOutcome.Done;
        string outcome = done ? "done" : "failed";

        // Bytes that passed through this process; when not counted, a done object wrote as many as it read.
        long read = result.BytesRead >= 0 ? result.BytesRead : result.Bytes;
        long written = result.BytesWritten >= 0 ? result.BytesWritten : done ? result.Bytes : 0;
        var outcomeTag = new KeyValuePair<string, object?>(PipelineTags.Outcome, outcome);
        PipelineTelemetry.ObjectsProcessed.Add(1, outcomeTag);
        PipelineTelemetry.BytesRead.Add(read);
        PipelineTelemetry.BytesWritten.Add(written);
        if (result.ClippedSamples > 0)
        {
            PipelineTelemetry.ClippedSamples.Add(result.ClippedSamples);
        }

        PipelineTelemetry.ObjectDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, outcomeTag);
        if (_activity is not { IsAllDataRequested: true })
        {
            return;
        }

        _activity.SetTag(PipelineTags.Outcome, outcome);
        _activity.SetTag(PipelineTags.BytesRead, read);
        _activity.SetTag(PipelineTags.BytesWritten, written);
        _activity.SetTag(PipelineTags.ClippedSamples, result.ClippedSamples);
        if (!done)
        {
            _activity.SetTag(PipelineTags.FailureReason, result.Reason);
            _activity.SetTag(PipelineTags.ErrorType, "invalid_object");
            _activity.SetStatus(ActivityStatusCode.Error, result.Reason);
        }
    }

    /// <summary>Records an error that aborts the object's batch (the object will be redone); cancellation is not an error.</summary>
    /// <remarks>Exception messages in this codebase name no secret; the span records the type and message.</remarks>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        bool cancelled = exception is OperationCanceledException;
        if (!cancelled)
        {
            PipelineTelemetry.ObjectsProcessed.Add(1, new KeyValuePair<string, object?>(PipelineTags.Outcome, "error"));
            PipelineTelemetry.ObjectDuration.Record(
                Stopwatch.GetElapsedTime(_started).TotalSeconds, new KeyValuePair<string, object?>(PipelineTags.Outcome, "error"));
        }

        if (_activity is not { IsAllDataRequested: true })
        {
            return;
        }

        _activity.SetTag(PipelineTags.Outcome, cancelled ? "cancelled" : "error");
        if (!cancelled)
        {
            _activity.SetTag(PipelineTags.ErrorType, exception.GetType().FullName);
            _activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            _activity.AddException(exception);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _activity?.Dispose();
}
