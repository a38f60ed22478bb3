using System.Text.Json;

namespace PosCuda.Coordinator.Cli;

/// <summary>Writes a JSON report file atomically (a temporary file renamed over the target).</summary>
public static class ReportFile
{
    /// <summary>Writes the JSON that <paramref name="write"/> produces to <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        await using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            write(json);
            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Writes <c>"failures": [{"key": ..., "reason": ...}, ...]</c>, the form every report lists failures in.</summary>
    public static void WriteFailures(Utf8JsonWriter json, IReadOnlyList<(string Key, string Reason)> failures)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(failures);
        json.WriteStartArray("failures");
        foreach ((string key, string reason) in failures)
        {
            json.WriteStartObject();
            json.WriteString("key", key);
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
