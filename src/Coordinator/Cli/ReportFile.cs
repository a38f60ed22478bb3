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
}
