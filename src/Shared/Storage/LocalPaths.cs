namespace PosCuda.Shared.Storage;

/// <summary>Local folder locations: parsing, symbolic-link resolution and containment.</summary>
internal static class LocalPaths
{
    // Like the kernel's ELOOP limit.
    private const int MaxLinkHops = 40;

    private static readonly char[] s_separators = [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar];

    /// <summary>How paths compare on this platform (case-insensitive on Windows and macOS).</summary>
    public static StringComparison Comparison { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Turns a plain path or <c>file://</c> URI into a full path without a trailing separator.</summary>
    public static string ToFullPath(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        string path = location;
        if (location.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(location, UriKind.Absolute, out Uri? uri) || !uri.IsFile
                || (uri.Host.Length != 0 && !uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"Not a local file URI: {location}", nameof(location));
            }

            path = uri.LocalPath;
        }

        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
    }

    /// <summary>Resolves every symbolic link in a full path, as <c>realpath</c> does; missing parts are kept as written.</summary>
    /// <exception cref="IOException">Links nest deeper than 40 hops (a loop).</exception>
    public static string ResolveLinks(string fullPath)
    {
        string current = Path.GetPathRoot(fullPath) ?? string.Empty;
        var pending = new Stack<string>();
        PushSegments(pending, fullPath[current.Length..]);
        int hops = 0;
        while (pending.TryPop(out string? segment))
        {
            if (segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            string next = Path.Join(current, segment);
            string? target = ReadLink(next);
            if (target is null)
            {
                current = next;
                continue;
            }

            if (++hops > MaxLinkHops)
            {
                throw new IOException($"Too many levels of symbolic links: {fullPath}");
            }

            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target) ?? current;
                target = target[current.Length..];
            }

            PushSegments(pending, target);
        }

        return current;
    }

    /// <summary>Whether full path <paramref name="inner"/> is <paramref name="outer"/> or lies inside it.</summary>
    public static bool IsSameOrWithin(string inner, string outer)
    {
        string innerDir = WithTrailingSeparator(inner);
        string outerDir = WithTrailingSeparator(outer);
        return innerDir.StartsWith(outerDir, Comparison);
    }

    /// <summary>Appends a directory separator unless the path already ends with one.</summary>
    public static string WithTrailingSeparator(string path) =>
        Path.EndsInDirectorySeparator(path) ? path : path + Path.DirectorySeparatorChar;

    private static void PushSegments(Stack<string> pending, string relative)
    {
        string[] segments = relative.Split(s_separators, StringSplitOptions.RemoveEmptyEntries);
        for (int i = segments.Length - 1; i >= 0; i--)
        {
            pending.Push(segments[i]);
        }
    }

    private static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
