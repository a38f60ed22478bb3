using System.Collections.Concurrent;
using System.Diagnostics;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

/// <summary>Records every span of <see cref="PipelineTelemetry.ActivitySource"/> that stops while it listens (all data, recorded).</summary>
internal sealed class ActivityRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public ActivityRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PipelineTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    public Activity Single(string name) => Assert.Single(Stopped, a => a.OperationName == name);

    public void Dispose() => _listener.Dispose();
}
