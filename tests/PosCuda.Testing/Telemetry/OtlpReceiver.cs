using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OpenTelemetry.Exporter;

namespace PosCuda.Testing.Telemetry;

/// <summary>A loopback OTLP/HTTP receiver for tests: accepts POSTs of protobuf exports and keeps their raw bodies.</summary>
/// <remarks>
/// <para>Listens on <c>127.0.0.1</c> on a free port and answers every POST with 200 and an empty protobuf response
/// (an empty <c>Export*ServiceResponse</c>). Bodies are kept whole (gunzipped if sent with <c>Content-Encoding: gzip</c>)
/// and decoded on demand: <see cref="Spans"/>, <see cref="MetricPoints"/>. Protobuf strings are raw UTF-8, so
/// <see cref="ContainsText"/> can look for any text in any payload (a secret that must never be sent).</para>
/// <para>In process: <c>using IDisposable t = TelemetrySetup.Start(role, receiver.ConfigureExporter);</c>. For a child
/// process: copy <see cref="EnvironmentVariables"/> into its environment.</para>
/// </remarks>
public sealed class OtlpReceiver : IAsyncDisposable, IDisposable
{
    /// <summary>The path of trace exports.</summary>
    public const string TracesPath = "/v1/traces";

    /// <summary>The path of metric exports.</summary>
    public const string MetricsPath = "/v1/metrics";

    /// <summary>The path of log exports.</summary>
    public const string LogsPath = "/v1/logs";

    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(25);
    private readonly HttpListener _listener;
    private readonly List<OtlpRequest> _requests = [];
    private readonly Lock _lock = new();
    private readonly Task _loop;

    private OtlpReceiver(HttpListener listener, Uri endpoint)
    {
        _listener = listener;
        Endpoint = endpoint;
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The base endpoint, <c>http://127.0.0.1:PORT/</c>; exporters append <c>/v1/traces</c> and <c>/v1/metrics</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>The environment that points a child process's exporter here (endpoint, http/protobuf, short export intervals).</summary>
    public IReadOnlyDictionary<string, string> EnvironmentVariables => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };

    /// <summary>Every request accepted so far, in arrival order.</summary>
    public IReadOnlyList<OtlpRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Every span received so far, decoded from the trace exports, in arrival order.</summary>
    public IReadOnlyList<OtlpSpan> Spans
    {
        get
        {
            var spans = new List<OtlpSpan>();
            foreach (OtlpRequest request in Requests)
            {
                if (request.Path == TracesPath)
                {
                    spans.AddRange(OtlpDecoder.DecodeTraces(request.Body));
                }
            }

            return spans;
        }
    }

    /// <summary>Every metric data point received so far, decoded from the metric exports, in arrival order.</summary>
    /// <remarks>Cumulative sums repeat with a growing value at each export: use <see cref="LatestTotal"/> for a counter's total.</remarks>
    public IReadOnlyList<OtlpMetricPoint> MetricPoints
    {
        get
        {
            var points = new List<OtlpMetricPoint>();
            foreach (OtlpRequest request in Requests)
            {
                if (request.Path == MetricsPath)
                {
                    points.AddRange(OtlpDecoder.DecodeMetrics(request.Body));
                }
            }

            return points;
        }
    }

    /// <summary>Starts a receiver on a free loopback port.</summary>
    public static OtlpReceiver Start()
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = Loopback.FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new OtlpReceiver(listener, new Uri($"http://127.0.0.1:{port}/"));
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                // Another process took the port between probing and binding: try another.
                listener.Close();
            }
        }
    }

    /// <summary>Points an exporter here over HTTP/protobuf: pass it as <c>TelemetrySetup.Start(role, receiver.ConfigureExporter)</c>.</summary>
    /// <remarks>Sets the base endpoint; <c>TelemetrySetup</c> appends the signal path. Used directly with <c>AddOtlpExporter</c>, set the full signal URL instead.</remarks>
    public void ConfigureExporter(OtlpExporterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = Endpoint;
    }

    /// <summary>The latest value of a counter or gauge <paramref name="metric"/>, summed over every attribute set and sender.</summary>
    /// <param name="metric">The metric name, e.g. <c>poscuda.objects.processed</c>.</param>
    /// <param name="attributes">Only points carrying all of these attributes (e.g. <c>("poscuda.outcome", "done")</c>).</param>
    /// <returns>The sum of the latest point of each series; 0 when none matched.</returns>
    public double LatestTotal(string metric, params (string Key, object Value)[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(metric);
        var latest = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (OtlpMetricPoint point in MetricPoints)
        {
            if (point.Name != metric || !Matches(point.Attributes, attributes))
            {
                continue;
            }

            latest[SeriesKey(point)] = point.Type == "histogram" ? point.Count : point.Value;
        }

        double total = 0;
        foreach (double value in latest.Values)
        {
            total += value;
        }

        return total;
    }

    /// <summary>Whether any payload received so far contains <paramref name="text"/> as UTF-8.</summary>
    public bool ContainsText(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        return ContainsBytes(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Whether any payload received so far contains <paramref name="bytes"/>.</summary>
    public bool ContainsBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new ArgumentException("Nothing to look for.", nameof(bytes));
        }

        foreach (OtlpRequest request in Requests)
        {
            if (request.Body.AsSpan().IndexOf(bytes) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Polls until <paramref name="condition"/> holds, or throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<OtlpReceiver, bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline)
            {
                IReadOnlyList<OtlpRequest> requests = Requests;
                throw new TimeoutException(
                    $"OTLP receiver: condition not met within {timeout.TotalSeconds:F1} s; {requests.Count} requests received " +
                    $"({string.Join(", ", requests.Select(r => r.Path).Distinct())}).");
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        StopListening();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void StopListening()
    {
        if (_listener.IsListening)
        {
            _listener.Stop();
        }

        _listener.Close();
    }

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        HttpListenerResponse response = context.Response;
        try
        {
            if (request.HttpMethod != "POST")
            {
                response.StatusCode = 405;
                return;
            }

            using var body = new MemoryStream();
            if (string.Equals(request.Headers["Content-Encoding"], "gzip", StringComparison.OrdinalIgnoreCase))
            {
                await using var gzip = new GZipStream(request.InputStream, CompressionMode.Decompress);
                await gzip.CopyToAsync(body).ConfigureAwait(false);
            }
            else
            {
                await request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            }

            string path = request.Url?.AbsolutePath ?? "/";
            lock (_lock)
            {
                _requests.Add(new OtlpRequest(path, request.ContentType, body.ToArray()));
            }

            response.StatusCode = 200;
            response.ContentType = "application/x-protobuf";
            response.ContentLength64 = 0;
        }
        catch (Exception e) when (e is IOException or HttpListenerException or InvalidDataException or ObjectDisposedException)
        {
            response.StatusCode = 400;
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    private static bool Matches(IReadOnlyDictionary<string, object?> actual, (string Key, object Value)[] wanted)
    {
        foreach ((string key, object value) in wanted)
        {
            if (!actual.TryGetValue(key, out object? present) || !Equals(Normalise(present), Normalise(value)))
            {
                return false;
            }
        }

        return true;
    }

    // OTLP carries every integer as int64: compare an int the test wrote with the long the decoder read.
    private static object? Normalise(object? value) => value is int i ? (long)i : value;

    private static string SeriesKey(OtlpMetricPoint point)
    {
        var key = new StringBuilder();
        key.Append(point.Resource.GetValueOrDefault("service.instance.id")).Append('|');
        foreach (KeyValuePair<string, object?> attribute in point.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            key.Append(attribute.Key).Append('=').Append(attribute.Value).Append(';');
        }

        return key.ToString();
    }
}
