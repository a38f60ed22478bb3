using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace PosCuda.Shared.Telemetry;

/// <summary>Starts OTLP export of the pipeline's traces and metrics, configured by the standard <c>OTEL_*</c> environment variables.</summary>
/// <remarks>
/// Nothing is exported (and no provider is built) unless <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or a signal-specific
/// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>/<c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c> is set; <c>OTEL_SDK_DISABLED=true</c>
/// turns it off. The exporter reads <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>_HEADERS</c> and <c>_TIMEOUT</c> itself; the
/// resource merges <c>OTEL_RESOURCE_ATTRIBUTES</c> and <c>OTEL_SERVICE_NAME</c> over the defaults.
/// </remarks>
public static class TelemetrySetup
{
    /// <summary>The role of the <c>poscuda coordinator</c> and <c>poscuda submit</c> commands.</summary>
    public const string CoordinatorRole = "coordinator";

    /// <summary>The role of <c>poscuda-worker</c>.</summary>
    public const string WorkerRole = "worker";

    /// <summary>The role of <c>poscuda protect</c> (planner, worker and coordinator in one process).</summary>
    public const string ProtectRole = "protect";

    /// <summary>The metric export interval unless <c>OTEL_METRIC_EXPORT_INTERVAL</c> says otherwise; short, so a short job's metrics arrive.</summary>
    public const int DefaultMetricExportIntervalMilliseconds = 5000;

    private const int FlushTimeoutMilliseconds = 5000;

    /// <summary>Starts export for <paramref name="role"/> if the environment asks for it; dispose the result at exit to flush.</summary>
    public static IDisposable Start(string role) => Start(role, configure: null);

    /// <summary>Starts export for <paramref name="role"/>; with <paramref name="configure"/>, always exports, with options the callback sets.</summary>
    /// <remarks>
    /// For tests and embedding: the callback runs once per signal, after the environment has been read. An HTTP/protobuf
    /// endpoint given with no path is treated like <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: <c>/v1/traces</c> or <c>/v1/metrics</c> is appended.
    /// </remarks>
    public static IDisposable Start(string role, Action<OtlpExporterOptions>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        if (IsTrue(Environment.GetEnvironmentVariable("OTEL_SDK_DISABLED")))
        {
            return Exporters.None;
        }

        string? common = Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        bool traces = configure is not null || IsSet(common) || IsSet(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
        bool metrics = configure is not null || IsSet(common) || IsSet(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));
        if (!traces && !metrics)
        {
            return Exporters.None;
        }

        ResourceBuilder resource = CreateResource(role);
        TracerProvider? tracerProvider = null;
        MeterProvider? meterProvider = null;
        try
        {
            if (traces)
            {
                tracerProvider = Sdk.CreateTracerProviderBuilder()
                    .SetResourceBuilder(resource)
                    .AddSource(PipelineTelemetry.Name)
                    .AddNpgsql() // The PostgreSQL ledger's statements, as children of the spans that make them.
                    .AddOtlpExporter(options => Configure(options, configure, "v1/traces"))
                    .Build();
            }

            if (metrics)
            {
                bool intervalFromEnvironment = IsSet(Environment.GetEnvironmentVariable("OTEL_METRIC_EXPORT_INTERVAL"));
                meterProvider = Sdk.CreateMeterProviderBuilder()
                    .SetResourceBuilder(resource)
                    .AddMeter(PipelineTelemetry.Name)
                    .AddNpgsqlInstrumentation() // Connection pool and command metrics of the PostgreSQL ledger.
                    .AddOtlpExporter((options, reader) =>
                    {
                        Configure(options, configure, "v1/metrics");
                        if (!intervalFromEnvironment)
                        {
                            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = DefaultMetricExportIntervalMilliseconds;
                        }
                    })
                    .Build();
            }
        }
        catch
        {
            tracerProvider?.Dispose();
            meterProvider?.Dispose();
            throw;
        }

        return new Exporters(tracerProvider, meterProvider);
    }

    /// <summary>Builds the resource: <c>service.name</c> <c>poscuda-ROLE</c>, <c>poscuda.role</c>, <c>host.name</c>, <c>process.pid</c>, then the environment's.</summary>
    internal static ResourceBuilder CreateResource(string role)
        => ResourceBuilder.CreateEmpty()
            .AddService("poscuda-" + role, serviceVersion: typeof(TelemetrySetup).Assembly.GetName().Version?.ToString(), autoGenerateServiceInstanceId: true)
            .AddTelemetrySdk()
            .AddAttributes(
            [
                new(PipelineTags.Role, role),
                new("host.name", Environment.MachineName),
                new("process.pid", (long)Environment.ProcessId),
            ])

            // Last, so OTEL_RESOURCE_ATTRIBUTES and then OTEL_SERVICE_NAME override the defaults above.
            .AddEnvironmentVariableDetector();

    private static void Configure(OtlpExporterOptions options, Action<OtlpExporterOptions>? configure, string signalPath)
    {
        if (configure is null)
        {
            return;
        }

        Uri before = options.Endpoint;
        configure(options);
        Uri after = options.Endpoint;
        if (options.Protocol == OtlpExportProtocol.HttpProtobuf && after != before && after.AbsolutePath == "/")
        {
            options.Endpoint = new Uri(after, signalPath);
        }
    }

    private static bool IsSet(string? value) => !string.IsNullOrWhiteSpace(value);

    private static bool IsTrue(string? value) => string.Equals(value?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    private sealed class Exporters(TracerProvider? tracerProvider, MeterProvider? meterProvider) : IDisposable
    {
        public static readonly Exporters None = new(null, null);

        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            // Flush what the last seconds recorded before shutting down; a dead collector costs at most the timeout.
            tracerProvider?.ForceFlush(FlushTimeoutMilliseconds);
            meterProvider?.ForceFlush(FlushTimeoutMilliseconds);
            tracerProvider?.Dispose();
            meterProvider?.Dispose();
        }
    }
}
