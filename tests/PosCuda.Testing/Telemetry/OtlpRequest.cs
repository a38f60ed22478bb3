namespace PosCuda.Testing.Telemetry;

/// <summary>One POST the <see cref="OtlpReceiver"/> accepted: its path and its raw (decompressed) protobuf body.</summary>
/// <param name="Path">The request path: <c>/v1/traces</c>, <c>/v1/metrics</c> or <c>/v1/logs</c>.</param>
/// <param name="ContentType">The request's content type (<c>application/x-protobuf</c>).</param>
/// <param name="Body">The request body, gunzipped if it was sent compressed.</param>
public sealed record OtlpRequest(string Path, string? ContentType, byte[] Body);
