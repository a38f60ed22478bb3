namespace PosCuda.Shared.Tests.Telemetry;

/// <summary>Telemetry tests share process-wide state (the one ActivitySource and Meter, OTEL_* variables): they run alone, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Telemetry";
}
