using System.Text;

namespace PosCuda.Shared.Labels;

/// <summary>The label comes from a CSV file of <c>key,label</c> records.</summary>
/// <remarks>
/// <para>Exactly what the file may hold (<c>tools/poscuda_reference.py</c> reads it the same way, and a test holds the
/// two to the same files):</para>
/// <list type="bullet">
/// <item>UTF-8 (invalid bytes are refused); one leading byte-order mark is ignored.</item>
/// <item>Records end with LF or CRLF; the last one may have no line end. A carriage return outside quotes that is not
/// followed by LF is refused.</item>
/// <item>Every record has exactly two fields, key then label. A third field is refused, not ignored: an unquoted comma
/// in a key would otherwise shift the label silently.</item>
/// <item>A field may be enclosed in double quotes, and must be to hold a comma, a quote, CR or LF; inside, <c>""</c>
/// stands for one quote, and the field may span lines. A quote inside an unquoted field, anything but a comma or the
/// record's end after a closing quote, and a quote left open at the end of the file are refused.</item>
/// <item>A first record that is exactly <c>key,label</c> is a header and skipped; any other first record is data.</item>
/// <item>Empty lines are skipped anywhere. Fields are taken as written: no trimming, so <c> 3</c> and <c>3</c> are
/// different labels (a label is hashed byte for byte).</item>
/// <item>An empty key or label, a key listed twice (even with the same label), and a NUL anywhere are refused.</item>
/// </list>
/// <para>Keys are relative to the source prefix and compared ordinally, as listed.</para>
/// </remarks>
public sealed class CsvLabelRule : LabelRule
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Dictionary<string, string> _labels;

    private CsvLabelRule(string text, Dictionary<string, string> labels)
        : base(text)
    {
        _labels = labels;
    }

    /// <summary>The number of keys the file labels.</summary>
    public int Count => _labels.Count;

    /// <summary>Every labelled key and its label.</summary>
    public IReadOnlyDictionary<string, string> Labels => _labels;

    /// <inheritdoc/>
    public override string? Resolve(string key, out string? reason)
    {
        if (_labels.TryGetValue(key, out string? label))
        {
            reason = null;
            return label;
        }

        reason = "no label: the key is not in the label CSV";
        return null;
    }

    internal static CsvLabelRule Load(string text, string path)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"Label rule '{text}': the file '{path}' does not exist.", nameof(path));
        }

        string content;
        try
        {
            content = s_strictUtf8.GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException e)
        {
            throw new ArgumentException($"Label rule '{text}': the file is not valid UTF-8.", nameof(path), e);
        }

        try
        {
            return new CsvLabelRule(text, ReadRecords(content));
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"Label rule '{text}': {e.Message}", nameof(path), e);
        }
    }

    /// <summary>Reads the records of a label file's text, as the remarks above say.</summary>
    /// <exception cref="FormatException">The text breaks a rule; the message names the line.</exception>
    internal static Dictionary<string, string> ReadRecords(string content)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new RecordReader(content);
        bool first = true;
        while (reader.Next(out List<string>? fields, out int line))
        {
            if (fields.Count != 2)
            {
                throw new FormatException($"line {line} has {fields.Count} fields; expected 2 (key,label): quote a field that holds a comma.");
            }

            (string key, string label) = (fields[0], fields[1]);
            if (first && key == "key" && label == "label")
            {
                first = false;
                continue;
            }

            first = false;
            if (key.Length == 0 || label.Length == 0)
            {
                throw new FormatException($"line {line} has an empty key or label.");
            }

            if (!labels.TryAdd(key, label))
            {
                throw new FormatException($"key '{key}' is listed twice (line {line}).");
            }
        }

        return labels;
    }

    // Splits CSV text into records of fields; empty lines give no record.
    private struct RecordReader(string text)
    {
        private readonly string _text = text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        private int _position;
        private int _line = 1;

        public bool Next(out List<string> fields, out int startLine)
        {
            fields = [];
            while (true)
            {
                startLine = _line;
                if (_position >= _text.Length)
                {
                    return false;
                }

                if (!AtLineEnd())
                {
                    break;
                }

                SkipLineEnd(); // an empty line
            }

            var field = new StringBuilder();
            while (true)
            {
                bool quoted = _position < _text.Length && _text[_position] == '"';
                if (quoted)
                {
                    ReadQuoted(field, startLine);
                }
                else
                {
                    ReadUnquoted(field);
                }

                fields.Add(field.ToString());
                field.Clear();
                if (_position >= _text.Length)
                {
                    return true;
                }

                if (_text[_position] == ',')
                {
                    _position++;
                    continue;
                }

                if (AtLineEnd())
                {
                    SkipLineEnd();
                    return true;
                }

                throw quoted
                    ? new FormatException($"line {_line}: only a comma or the end of the line may follow a closing quote.")
                    : new FormatException($"line {_line}: a carriage return must be followed by a line feed.");
            }
        }

        private void ReadUnquoted(StringBuilder field)
        {
            while (_position < _text.Length)
            {
                char c = _text[_position];
                if (c is ',' or '\n' or '\r')
                {
                    return;
                }

                Check(c);
                if (c == '"')
                {
                    throw new FormatException($"line {_line}: a quote inside an unquoted field; enclose the field in quotes and double the quote.");
                }

                field.Append(c);
                _position++;
            }
        }

        private void ReadQuoted(StringBuilder field, int startLine)
        {
            _position++; // the opening quote
            while (_position < _text.Length)
            {
                char c = _text[_position++];
                if (c == '"')
                {
                    if (_position < _text.Length && _text[_position] == '"')
                    {
                        field.Append('"');
                        _position++;
                        continue;
                    }

                    return;
                }

                Check(c);
                _line += c == '\n' ? 1 : 0;
                field.Append(c);
            }

            throw new FormatException($"line {startLine}: a quoted field is not closed before the end of the file.");
        }

        private readonly void Check(char c)
        {
            if (c == '\0')
            {
                throw new FormatException($"line {_line} holds a NUL character.");
            }
        }

        private readonly bool AtLineEnd() =>
            _text[_position] == '\n' || (_text[_position] == '\r' && _position + 1 < _text.Length && _text[_position + 1] == '\n');

        private void SkipLineEnd()
        {
            _position += _text[_position] == '\r' ? 2 : 1;
            _line++;
        }
    }
}
