namespace PosCuda.Shared.Labels;

/// <summary>The label is the name of the object's immediate parent folder (<c>yes/0a7c2a8d_nohash_0.wav</c> → <c>yes</c>).</summary>
/// <remarks>
/// The parent is the key's segment before its last '/'. A key with no '/' (or only a leading one) has no label, and
/// neither has one whose parent segment is empty (<c>a//b.wav</c>), '.' or '..': S3 holds such keys, but these are
/// not names of class folders, and taking them as labels would make classes out of path syntax.
/// </remarks>
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
        string label = key[(previous + 1)..slash];
        if (label is "" or "." or "..")
        {
            // 'a//b.wav', 'a/./b.wav', 'a/../b.wav': S3 holds such keys, but no folder there names a class.
            reason = $"no label: the 'dir' rule found '{label}' where the class folder's name should be";
            return null;
        }

        reason = null;
        return label;
    }
}
