using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PosCuda.Shared.Telemetry;

/// <summary>The one <see cref="ActivitySource"/> and <see cref="Meter"/> of the pipeline, and its instruments.</summary>
/// <remarks>Both are named <c>PosCuda.Pipeline</c>; every role records through this holder.</remarks>
public static class PipelineTelemetry
{
    /// <summary>The name of the activity source and the meter.</summary>
    public const string Name = "PosCuda.Pipeline";

    /// <summary>The source of every span the pipeline starts.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, "1.0.0");

    /// <summary>The meter of every instrument the pipeline records.</summary>
    public static readonly Meter Meter = new(Name, "1.0.0");

    /// <summary>Object-store requests retried, tagged by <c>poscuda.retry.cause</c> (throttled, server_error, timeout, network).</summary>
    public static readonly Counter<long> StoreRetries =
        Meter.CreateCounter<long>("poscuda.store.retries", unit: "{request}", description: "Object-store requests retried, by cause.");
}
