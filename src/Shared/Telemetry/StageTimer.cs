using System.Diagnostics;

namespace PosCuda.Shared.Telemetry;

/// <summary>Times one stage of an object (get, protect, put): records <c>poscuda.stage.duration</c> and an event on the object's span when disposed.</summary>
/// <remarks>Made by <see cref="PipelineTelemetry.StartStage"/>; dispose it exactly once, with <c>using</c>.</remarks>
public readonly struct StageTimer : IDisposable
{
    private readonly string _stage;
    private readonly Activity? _activity;
    private readonly long _started;

    internal StageTimer(string stage, Activity? activity, long started)
    {
        _stage = stage;
        _activity = activity;
        _started = started;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_stage is null)
        {
            return;
        }

        PipelineTelemetry.StageDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, new KeyValuePair<string, object?>(PipelineTags.Stage, _stage));
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.AddEvent(new ActivityEvent(EventName(_stage)));
        }
    }

    private static string EventName(string stage) => stage switch
    {
        SpanNames.StageGet => "poscuda.object.get",
        SpanNames.StageProtect => "poscuda.object.protect",
        SpanNames.StagePut => "poscuda.object.put",
        _ => "poscuda.object." + stage,
    };
}
