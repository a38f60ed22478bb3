using System.Buffers.Binary;
using System.Text;

namespace PosCuda.Testing.Telemetry;

/// <summary>Decodes the parts of OTLP protobuf requests that tests look at (opentelemetry-proto v1 field numbers).</summary>
/// <remarks>A minimal varint / length-delimited walker: unknown fields are skipped, so newer senders still decode.</remarks>
internal static class OtlpDecoder
{
    private const int Varint = 0;
    private const int Fixed64 = 1;
    private const int Length = 2;
    private const int Fixed32 = 5;

    /// <summary>Decodes every span of an <c>ExportTraceServiceRequest</c>.</summary>
    public static List<OtlpSpan> DecodeTraces(ReadOnlySpan<byte> request)
    {
        var spans = new List<OtlpSpan>();
        var reader = new ProtoReader(request);
        while (reader.Next(out int field, out int wire))
        {
            if (field != 1 || wire != Length)
            {
                reader.Skip(wire);
                continue;
            }

            // ResourceSpans: resource = 1, scope_spans = 2.
            var resourceSpans = new ProtoReader(reader.ReadBytes());
            Dictionary<string, object?> resource = [];
            var scopes = new List<byte[]>();
            while (resourceSpans.Next(out int f, out int w))
            {
                if (f == 1 && w == Length)
                {
                    resource = DecodeResource(resourceSpans.ReadBytes());
                }
                else if (f == 2 && w == Length)
                {
                    scopes.Add(resourceSpans.ReadBytes().ToArray());
                }
                else
                {
                    resourceSpans.Skip(w);
                }
            }

            foreach (byte[] scope in scopes)
            {
                DecodeScopeSpans(scope, resource, spans);
            }
        }

        return spans;
    }

    /// <summary>Decodes every data point of an <c>ExportMetricsServiceRequest</c>.</summary>
    public static List<OtlpMetricPoint> DecodeMetrics(ReadOnlySpan<byte> request)
    {
        var points = new List<OtlpMetricPoint>();
        var reader = new ProtoReader(request);
        while (reader.Next(out int field, out int wire))
        {
            if (field != 1 || wire != Length)
            {
                reader.Skip(wire);
                continue;
            }

            // ResourceMetrics: resource = 1, scope_metrics = 2; ScopeMetrics: scope = 1, metrics = 2.
            var resourceMetrics = new ProtoReader(reader.ReadBytes());
            Dictionary<string, object?> resource = [];
            var metrics = new List<byte[]>();
            while (resourceMetrics.Next(out int f, out int w))
            {
                if (f == 1 && w == Length)
                {
                    resource = DecodeResource(resourceMetrics.ReadBytes());
                }
                else if (f == 2 && w == Length)
                {
                    var scopeMetrics = new ProtoReader(resourceMetrics.ReadBytes());
                    while (scopeMetrics.Next(out int sf, out int sw))
                    {
                        if (sf == 2 && sw == Length)
                        {
                            metrics.Add(scopeMetrics.ReadBytes().ToArray());
                        }
                        else
                        {
                            scopeMetrics.Skip(sw);
                        }
                    }
                }
                else
                {
                    resourceMetrics.Skip(w);
                }
            }

            foreach (byte[] metric in metrics)
            {
                DecodeMetric(metric, resource, points);
            }
        }

        return points;
    }

    private static void DecodeScopeSpans(ReadOnlySpan<byte> message, Dictionary<string, object?> resource, List<OtlpSpan> spans)
    {
        // ScopeSpans: scope = 1 (InstrumentationScope: name = 1), spans = 2.
        string scope = string.Empty;
        var bodies = new List<byte[]>();
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            if (field == 1 && wire == Length)
            {
                var scopeReader = new ProtoReader(reader.ReadBytes());
                while (scopeReader.Next(out int f, out int w))
                {
                    if (f == 1 && w == Length)
                    {
                        scope = scopeReader.ReadString();
                    }
                    else
                    {
                        scopeReader.Skip(w);
                    }
                }
            }
            else if (field == 2 && wire == Length)
            {
                bodies.Add(reader.ReadBytes().ToArray());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        foreach (byte[] body in bodies)
        {
            spans.Add(DecodeSpan(body, resource, scope));
        }
    }

    private static OtlpSpan DecodeSpan(ReadOnlySpan<byte> message, Dictionary<string, object?> resource, string scope)
    {
        // Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6, attributes = 9, events = 11, status = 15.
        string traceId = string.Empty;
        string spanId = string.Empty;
        string? parent = null;
        string name = string.Empty;
        int kind = 0;
        int status = 0;
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var events = new List<string>();
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, Length):
                    traceId = Convert.ToHexStringLower(reader.ReadBytes());
                    break;
                case (2, Length):
                    spanId = Convert.ToHexStringLower(reader.ReadBytes());
                    break;
                case (4, Length):
                    ReadOnlySpan<byte> parentBytes = reader.ReadBytes();
                    parent = parentBytes.IsEmpty ? null : Convert.ToHexStringLower(parentBytes);
                    break;
                case (5, Length):
                    name = reader.ReadString();
                    break;
                case (6, Varint):
                    kind = (int)reader.ReadVarint();
                    break;
                case (9, Length):
                    AddKeyValue(reader.ReadBytes(), attributes);
                    break;
                case (11, Length):
                    events.Add(DecodeEventName(reader.ReadBytes()));
                    break;
                case (15, Length):
                    status = DecodeStatusCode(reader.ReadBytes());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new OtlpSpan(name, traceId, spanId, parent, kind, status, attributes, events, resource, scope);
    }

    private static string DecodeEventName(ReadOnlySpan<byte> message)
    {
        // Event: time_unix_nano = 1, name = 2, attributes = 3.
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            if (field == 2 && wire == Length)
            {
                return reader.ReadString();
            }

            reader.Skip(wire);
        }

        return string.Empty;
    }

    private static int DecodeStatusCode(ReadOnlySpan<byte> message)
    {
        // Status: message = 2, code = 3.
        var reader = new ProtoReader(message);
        int code = 0;
        while (reader.Next(out int field, out int wire))
        {
            if (field == 3 && wire == Varint)
            {
                code = (int)reader.ReadVarint();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return code;
    }

    private static void DecodeMetric(ReadOnlySpan<byte> message, Dictionary<string, object?> resource, List<OtlpMetricPoint> points)
    {
        // Metric: name = 1, unit = 3, gauge = 5, sum = 7, histogram = 9; each holds data_points = 1.
        string name = string.Empty;
        string unit = string.Empty;
        var data = new List<(string Type, byte[] Point)>();
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, Length):
                    name = reader.ReadString();
                    break;
                case (3, Length):
                    unit = reader.ReadString();
                    break;
                case (5 or 7 or 9, Length):
                    string type = field switch { 5 => "gauge", 7 => "sum", _ => "histogram" };
                    var inner = new ProtoReader(reader.ReadBytes());
                    while (inner.Next(out int f, out int w))
                    {
                        if (f == 1 && w == Length)
                        {
                            data.Add((type, inner.ReadBytes().ToArray()));
                        }
                        else
                        {
                            inner.Skip(w);
                        }
                    }

                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        foreach ((string type, byte[] point) in data)
        {
            points.Add(type == "histogram" ? DecodeHistogramPoint(name, unit, point, resource) : DecodeNumberPoint(name, unit, type, point, resource));
        }
    }

    private static OtlpMetricPoint DecodeNumberPoint(string name, string unit, string type, ReadOnlySpan<byte> message, Dictionary<string, object?> resource)
    {
        // NumberDataPoint: as_double = 4 (double), as_int = 6 (sfixed64), attributes = 7.
        double value = 0;
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (4, Fixed64):
                    value = BitConverter.Int64BitsToDouble((long)reader.ReadFixed64());
                    break;
                case (6, Fixed64):
                    value = (long)reader.ReadFixed64();
                    break;
                case (7, Length):
                    AddKeyValue(reader.ReadBytes(), attributes);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new OtlpMetricPoint(name, unit, type, value, 0, [], attributes, resource);
    }

    private static OtlpMetricPoint DecodeHistogramPoint(string name, string unit, ReadOnlySpan<byte> message, Dictionary<string, object?> resource)
    {
        // HistogramDataPoint: count = 4 (fixed64), sum = 5 (double), explicit_bounds = 7 (packed double), attributes = 9.
        ulong count = 0;
        double sum = 0;
        var bounds = new List<double>();
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (4, Fixed64):
                    count = reader.ReadFixed64();
                    break;
                case (5, Fixed64):
                    sum = BitConverter.Int64BitsToDouble((long)reader.ReadFixed64());
                    break;
                case (7, Length):
                    ReadOnlySpan<byte> packed = reader.ReadBytes();
                    for (int i = 0; i + 8 <= packed.Length; i += 8)
                    {
                        bounds.Add(BinaryPrimitives.ReadDoubleLittleEndian(packed[i..]));
                    }

                    break;
                case (7, Fixed64):
                    bounds.Add(BitConverter.Int64BitsToDouble((long)reader.ReadFixed64()));
                    break;
                case (9, Length):
                    AddKeyValue(reader.ReadBytes(), attributes);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new OtlpMetricPoint(name, unit, "histogram", sum, count, bounds, attributes, resource);
    }

    private static Dictionary<string, object?> DecodeResource(ReadOnlySpan<byte> message)
    {
        // Resource: attributes = 1.
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            if (field == 1 && wire == Length)
            {
                AddKeyValue(reader.ReadBytes(), attributes);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return attributes;
    }

    private static void AddKeyValue(ReadOnlySpan<byte> message, Dictionary<string, object?> into)
    {
        // KeyValue: key = 1, value = 2 (AnyValue).
        string key = string.Empty;
        object? value = null;
        var reader = new ProtoReader(message);
        while (reader.Next(out int field, out int wire))
        {
            if (field == 1 && wire == Length)
            {
                key = reader.ReadString();
            }
            else if (field == 2 && wire == Length)
            {
                value = DecodeAnyValue(reader.ReadBytes());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        into[key] = value;
    }

    private static object? DecodeAnyValue(ReadOnlySpan<byte> message)
    {
        // AnyValue: string = 1, bool = 2, int = 3, double = 4, array = 5 (values = 1), kvlist = 6 (values = 1), bytes = 7.
        var reader = new ProtoReader(message);
        object? value = null;
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, Length):
                    value = reader.ReadString();
                    break;
                case (2, Varint):
                    value = reader.ReadVarint() != 0;
                    break;
                case (3, Varint):
                    value = (long)reader.ReadVarint();
                    break;
                case (4, Fixed64):
                    value = BitConverter.Int64BitsToDouble((long)reader.ReadFixed64());
                    break;
                case (5, Length):
                    var items = new List<object?>();
                    var array = new ProtoReader(reader.ReadBytes());
                    while (array.Next(out int f, out int w))
                    {
                        if (f == 1 && w == Length)
                        {
                            items.Add(DecodeAnyValue(array.ReadBytes()));
                        }
                        else
                        {
                            array.Skip(w);
                        }
                    }

                    value = items;
                    break;
                case (6, Length):
                    var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                    var list = new ProtoReader(reader.ReadBytes());
                    while (list.Next(out int f, out int w))
                    {
                        if (f == 1 && w == Length)
                        {
                            AddKeyValue(list.ReadBytes(), map);
                        }
                        else
                        {
                            list.Skip(w);
                        }
                    }

                    value = map;
                    break;
                case (7, Length):
                    value = reader.ReadBytes().ToArray();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return value;
    }

    private ref struct ProtoReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> _buffer = buffer;
        private int _position;

        public bool Next(out int field, out int wire)
        {
            if (_position >= _buffer.Length)
            {
                field = 0;
                wire = 0;
                return false;
            }

            ulong tag = ReadVarint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _buffer.Length)
                {
                    throw new InvalidDataException("Truncated varint.");
                }

                byte b = _buffer[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidDataException("Varint longer than 10 bytes.");
        }

        public ulong ReadFixed64()
        {
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
            return value;
        }

        public ReadOnlySpan<byte> ReadBytes() => Take(checked((int)ReadVarint()));

        public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

        public void Skip(int wire)
        {
            switch (wire)
            {
                case Varint:
                    ReadVarint();
                    break;
                case Fixed64:
                    Take(8);
                    break;
                case Length:
                    ReadBytes();
                    break;
                case Fixed32:
                    Take(4);
                    break;
                default:
                    throw new InvalidDataException($"Unsupported wire type {wire}.");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || _position + count > _buffer.Length)
            {
                throw new InvalidDataException("Truncated field.");
            }

            ReadOnlySpan<byte> slice = _buffer.Slice(_position, count);
            _position += count;
            return slice;
        }
    }
}
