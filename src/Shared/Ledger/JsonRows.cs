using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PosCuda.Shared.Ledger;

/// <summary>Rows for one SQL statement over <c>json_each</c>: a JSON array of arrays, one per row.</summary>
/// <remarks>
/// Writing many rows through one statement that reads them from a JSON parameter costs one bind and one step,
/// where a prepared statement per row costs a bind per column and a step per row. Text goes in unescaped where JSON
/// allows it (the result is SQL parameter text, never HTML), so keys in any script keep their size.
/// </remarks>
internal sealed class JsonRows : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json;

    public JsonRows()
    {
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _json.WriteStartArray();
    }

    /// <summary>Starts a row.</summary>
    /// <summary>Writes one array per item of <paramref name="items"/>, its values by <paramref name="write"/>, and returns the JSON text.</summary>
    public static string Of<T>(IReadOnlyList<T> items, Action<JsonRows, T> write)
    {
        using var rows = new JsonRows();
        foreach (var item in items)
        {
            rows.Begin();
            write(rows, item);
            rows.End();
        }

        return rows.ToText();
    }

    public void Begin() => _json.WriteStartArray();

    /// <summary>Ends a row.</summary>
    public void End() => _json.WriteEndArray();

    /// <summary>A text column (SQL NULL when null).</summary>
    public void Text(string? value)
    {
        if (value is null)
        {
            _json.WriteNullValue();
        }
        else
        {
            _json.WriteStringValue(value);
        }
    }

    /// <summary>An integer column.</summary>
    public void Number(long value) => _json.WriteNumberValue(value);

    /// <summary>The whole array as text, to bind as the statement's parameter; no row can be added afterwards.</summary>
    public string ToText()
    {
        _json.WriteEndArray();
        _json.Flush();
        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }

    public void Dispose() => _json.Dispose();
}
