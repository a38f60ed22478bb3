using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

/// <summary>Records every measurement of the <c>PosCuda.Pipeline</c> meter while it listens.</summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Recorded> _measurements = new();

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PipelineTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue(new Recorded(instrument.Name, value, ToDictionary(tags))));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _measurements.Enqueue(new Recorded(instrument.Name, value, ToDictionary(tags))));
        _listener.Start();
    }

    public IReadOnlyList<Recorded> Measurements => [.. _measurements];

    /// <summary>Reads the observable gauges now.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>The sum of the measurements of <paramref name="instrument"/> that carry <paramref name="tag"/> (all, when null).</summary>
    public double Sum(string instrument, (string Key, object Value)? tag = null)
    {
        double sum = 0;
        foreach (Recorded m in Measurements)
        {
            if (m.Instrument == instrument && (tag is not { } t || (m.Tags.TryGetValue(t.Key, out object? v) && Equals(v, t.Value))))
            {
                sum += m.Value;
            }
        }

        return sum;
    }

    /// <summary>The measurements of <paramref name="instrument"/>.</summary>
    public IReadOnlyList<Recorded> Of(string instrument) => [.. Measurements.Where(m => m.Instrument == instrument)];

    public void Dispose() => _listener.Dispose();

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            dictionary[tag.Key] = tag.Value;
        }

        return dictionary;
    }

    internal sealed record Recorded(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);
}
