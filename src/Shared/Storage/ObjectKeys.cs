namespace PosCuda.Shared.Storage;

/// <summary>Checks object keys before a store turns them into paths or requests.</summary>
/// <remarks>
/// Both stores apply the same rules, so a key accepted by one is accepted by the other and a
/// destination folder can never be written outside its root, whatever the source holds.
/// </remarks>
internal static class ObjectKeys
{
    /// <summary>Throws <see cref="InvalidObjectException"/> unless <paramref name="key"/> is a safe relative key.</summary>
    public static void Validate(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0)
        {
            throw new InvalidObjectException(key, "key is empty");
        }

        if (key.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidObjectException(key, "key contains a NUL character");
        }

        if (key.Contains('\\', StringComparison.Ordinal))
        {
            throw new InvalidObjectException(key, "key contains a backslash");
        }

        if (key[0] == '/' || Path.IsPathRooted(key))
        {
            throw new InvalidObjectException(key, "key is absolute; it escapes the store root");
        }

        ReadOnlySpan<char> rest = key;
        while (true)
        {
            int slash = rest.IndexOf('/');
            ReadOnlySpan<char> segment = slash < 0 ? rest : rest[..slash];
            if (segment.Length == 0)
            {
                throw new InvalidObjectException(key, "key has an empty segment");
            }

            if (segment is "..")
            {
                throw new InvalidObjectException(key, "key escapes the store root");
            }

            if (segment is ".")
            {
                throw new InvalidObjectException(key, "key has a '.' segment");
            }

            if (slash < 0)
            {
                return;
            }

            rest = rest[(slash + 1)..];
        }
    }
}
