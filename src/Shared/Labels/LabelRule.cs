namespace PosCuda.Shared.Labels;

/// <summary>Resolves the class label of an object from its key (README.md, the `--labels` option under "Using it").</summary>
/// <remarks>One rule per job: <c>dir</c>, <c>regex:PATTERN</c> or <c>csv:PATH</c>.</remarks>
public abstract class LabelRule
{
    private protected LabelRule(string text)
    {
        Text = text;
    }

    /// <summary>The rule as given, recorded on the job.</summary>
    public string Text { get; }

    /// <summary>Returns the label of the object at <paramref name="key"/> (relative to the source prefix).</summary>
    /// <param name="key">The object's key relative to the source prefix.</param>
    /// <param name="reason">Why no label was found, when the result is null.</param>
    public abstract string? Resolve(string key, out string? reason);

    /// <summary>Parses a rule.</summary>
    /// <exception cref="ArgumentException">The rule is malformed; the message says how.</exception>
    public static LabelRule Parse(string rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule == "dir")
        {
            return new DirectoryLabelRule(rule);
        }

        if (rule.StartsWith("regex:", StringComparison.Ordinal))
        {
            return new RegexLabelRule(rule, rule["regex:".Length..]);
        }

        if (rule.StartsWith("csv:", StringComparison.Ordinal))
        {
            return CsvLabelRule.Load(rule, rule["csv:".Length..]);
        }

        throw new ArgumentException(
            $"Unknown label rule '{rule}': use 'dir', 'regex:PATTERN' (with a named group 'label') or 'csv:PATH'.",
            nameof(rule));
    }

    /// <inheritdoc/>
    public override string ToString() => Text;
}
