namespace PosCuda.Shared.Tests.Telemetry;

/// <summary>Sets (or clears, with null) environment variables and restores them on dispose; only for tests that run alone.</summary>
internal sealed class EnvironmentScope : IDisposable
{
    private static readonly string[] s_otel =
    [
        "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY",
    ];

    private readonly Dictionary<string, string?> _saved = new(StringComparer.Ordinal);

    private EnvironmentScope(IReadOnlyDictionary<string, string?> values)
    {
        foreach (string name in s_otel.Concat(values.Keys).Distinct())
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, values.GetValueOrDefault(name));
        }
    }

    /// <summary>Clears every OTEL_* variable the setup reads, then sets <paramref name="values"/>.</summary>
    public static EnvironmentScope Otel(IReadOnlyDictionary<string, string?>? values = null) => new(values ?? new Dictionary<string, string?>());

    public void Dispose()
    {
        foreach ((string name, string? value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }
}
