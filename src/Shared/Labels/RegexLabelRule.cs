using System.Text.RegularExpressions;

namespace PosCuda.Shared.Labels;

/// <summary>The label is the named group <c>label</c> of a pattern searched in the key (as <see cref="Regex.Match(string)"/> does).</summary>
public sealed class RegexLabelRule : LabelRule
{
    private readonly Regex _regex;
    private readonly int _labelGroup;

    internal RegexLabelRule(string text, string pattern)
        : base(text)
    {
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Label rule '{text}': invalid regular expression: {e.Message}", nameof(pattern), e);
        }

        // Looked up once: the rule runs on every key of a job.
        _labelGroup = _regex.GroupNumberFromName("label");
        if (_labelGroup < 0)
        {
            throw new ArgumentException($"Label rule '{text}': the pattern needs a named group 'label', e.g. (?<label>\\d+).", nameof(pattern));
        }
    }

    /// <inheritdoc/>
    public override string? Resolve(string key, out string? reason)
    {
        Match match;
        try
        {
            match = _regex.Match(key);
        }
        catch (RegexMatchTimeoutException)
        {
            reason = "no label: the label pattern timed out on this key";
            return null;
        }

        Group group = match.Groups[_labelGroup];
        if (!match.Success || !group.Success || group.Length == 0)
        {
            reason = $"no label: the key does not match the label rule '{Text}'";
            return null;
        }

        reason = null;
        return group.Value;
    }
}
