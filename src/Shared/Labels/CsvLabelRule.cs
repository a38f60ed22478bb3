namespace PosCuda.Shared.Labels;

/// <summary>The label comes from a CSV file with columns <c>key,label</c> (an optional header row is skipped).</summary>
/// <remarks>Keys are relative to the source prefix. A field may be double-quoted to hold commas; no field is trimmed.</remarks>
public sealed class CsvLabelRule : LabelRule
{
    private readonly Dictionary<string, string> _labels;

    private CsvLabelRule(string text, Dictionary<string, string> labels)
        : base(text)
    {
        _labels = labels;
    }

    /// <summary>The number of keys the file labels.</summary>
    public int Count => _labels.Count;

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

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            List<string> fields = SplitCsvLine(line);
            if (fields.Count != 2)
            {
                throw new ArgumentException($"Label rule '{text}': line {lineNumber} has {fields.Count} fields; expected 'key,label'.", nameof(path));
            }

            // Fields are taken as written, spaces included, as the reference implementation reads them: a label is
            // hashed byte for byte, so " 3" and "3" would silently be two classes if one were trimmed and not the other.
            string key = fields[0];
            if (lineNumber == 1 && key == "key" && fields[1] == "label")
            {
                continue;
            }

            if (key.Length == 0 || fields[1].Length == 0)
            {
                throw new ArgumentException($"Label rule '{text}': line {lineNumber} has an empty key or label.", nameof(path));
            }

            if (!labels.TryAdd(key, fields[1]))
            {
                throw new ArgumentException($"Label rule '{text}': key '{key}' is listed twice (line {lineNumber}).", nameof(path));
            }
        }

        return new CsvLabelRule(text, labels);
    }

    private static List<string> SplitCsvLine(string line)
    {
        var fields = new List<string>(2);
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else if (c != '\r')
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
