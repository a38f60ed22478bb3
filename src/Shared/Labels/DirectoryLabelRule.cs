namespace PosCuda.Shared.Labels;

/// <summary>The label is the name of the object's immediate parent folder (<c>yes/0a7c2a8d_nohash_0.wav</c> → <c>yes</c>).</summary>
public sealed class DirectoryLabelRule : LabelRule
{
    internal DirectoryLabelRule(string text)
        : base(text)
    {
    }

    /// <inheritdoc/>
    public override string? Resolve(string key, out string? reason)
    {
        int slash = key.LastIndexOf('/');
        if (slash <= 0)
        {
            reason = "no label: the 'dir' rule needs the object inside a class folder";
            return null;
        }

        int previous = key.LastIndexOf('/', slash - 1);
        reason = null;
        return key[(previous + 1)..slash];
    }
}
