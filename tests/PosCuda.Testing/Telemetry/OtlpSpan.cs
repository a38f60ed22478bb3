namespace PosCuda.Testing.Telemetry;

/// <summary>One span decoded from an OTLP <c>ExportTraceServiceRequest</c>.</summary>
/// <param name="Name">The span name.</param>
/// <param name="TraceId">The trace id, 32 lower-case hex digits.</param>
/// <param name="SpanId">The span id, 16 lower-case hex digits.</param>
/// <param name="ParentSpanId">The parent span id, or null for a root span.</param>
/// <param name="Kind">The OTLP span kind (1 internal, 2 server, 3 client, 4 producer, 5 consumer).</param>
/// <param name="StatusCode">The OTLP status code (0 unset, 1 ok, 2 error).</param>
/// <param name="Attributes">The span's attributes (string, long, double, bool or byte[] values).</param>
/// <param name="Events">The names of the span's events, in order.</param>
/// <param name="Resource">The attributes of the resource that sent it (service.name, poscuda.role, ...).</param>
/// <param name="Scope">The instrumentation scope name (<c>PosCuda.Pipeline</c>).</param>
public sealed record OtlpSpan(
    string Name,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    int Kind,
    int StatusCode,
    IReadOnlyDictionary<string, object?> Attributes,
    IReadOnlyList<string> Events,
    IReadOnlyDictionary<string, object?> Resource,
    string Scope);
