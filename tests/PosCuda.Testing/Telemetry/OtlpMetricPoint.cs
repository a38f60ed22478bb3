namespace PosCuda.Testing.Telemetry;

/// <summary>One data point decoded from an OTLP <c>ExportMetricsServiceRequest</c> (sum, gauge or histogram).</summary>
/// <param name="Name">The metric name.</param>
/// <param name="Unit">The metric unit.</param>
/// <param name="Type">sum, gauge or histogram.</param>
/// <param name="Value">The value of a sum or gauge point (as_int or as_double); for a histogram, its sum.</param>
/// <param name="Count">For a histogram, the number of recorded values; otherwise 0.</param>
/// <param name="ExplicitBounds">For a histogram, its bucket boundaries; otherwise empty.</param>
/// <param name="Attributes">The point's attributes.</param>
/// <param name="Resource">The attributes of the resource that sent it.</param>
public sealed record OtlpMetricPoint(
    string Name,
    string Unit,
    string Type,
    double Value,
    ulong Count,
    IReadOnlyList<double> ExplicitBounds,
    IReadOnlyDictionary<string, object?> Attributes,
    IReadOnlyDictionary<string, object?> Resource);
