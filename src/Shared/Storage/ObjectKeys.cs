using System.Buffers;
using System.Text;

namespace PosCuda.Shared.Storage;

/// <summary>Which object keys each kind of store can hold, and why not when it cannot.</summary>
/// <remarks>
/// <para>A key is any string S3 accepts, relative to a store's prefix. S3 holds every such key as written, byte for
/// byte: empty segments (<c>a//b.wav</c>), a leading '/', '.' and '..' segments, backslashes, <c>%2F</c> and control
/// characters are all plain characters of one key there (the SDK sends them escaped and nothing normalises them).
/// Only what its listing cannot give back is refused: an empty key, one ending in '/' (a listing takes it for a
/// folder marker), one longer than 1,024 UTF-8 bytes with the prefix.</para>
/// <para>A folder holds a key only as the path it names below its root, so it refuses what would be another path or
/// none: a leading '/', empty, '.' and '..' segments (never normalised into another key, never outside the root),
/// a segment over 255 UTF-8 bytes (NAME_MAX) and a full path over 4,095 (PATH_MAX less its terminating NUL). A
/// backslash is an ordinary character of a Linux file name; on Windows it separates folders and is refused.</para>
/// <para>No store takes a key holding NUL: neither a file name nor a ledger row (PostgreSQL text) can hold it.</para>
/// </remarks>
public static class ObjectKeys
{
    // C0, DEL and C1: what char.IsControl calls a control character.
    private static readonly SearchValues<char> s_controls = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7f, 0x21)).Select(c => (char)c)));

    /// <summary>The longest S3 key in UTF-8 bytes, prefix included.</summary>
    public const int MaxS3KeyBytes = 1024;

    /// <summary>The longest file or folder name in bytes (Linux NAME_MAX).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>The longest path in bytes (Linux PATH_MAX, 4,096, less the terminating NUL).</summary>
    public const int MaxPathBytes = 4095;

    /// <summary>Why the store at <paramref name="location"/> (a folder or <c>s3://</c> location) cannot hold <paramref name="key"/>, or null when it can.</summary>
    /// <remarks>The stores refuse such a key with <see cref="InvalidObjectException"/> carrying the same reason.</remarks>
    public static string? Check(string location, string key) => CheckerFor(location)(key);

    /// <summary>The check of <see cref="Check"/> for one location, parsed once: for checking every key of a listing.</summary>
    public static Func<string, string?> CheckerFor(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (S3Location.IsS3(location))
        {
            string prefix = S3Location.Parse(location).Prefix;
            return key => S3Reason(prefix, key);
        }

        string root = LocalPaths.ToFullPath(location);
        return key => FolderReason(root, key);
    }

    /// <summary>Throws <see cref="InvalidObjectException"/> when <paramref name="reason"/> is not null.</summary>
    internal static void ThrowIf(string key, string? reason)
    {
        if (reason is not null)
        {
            throw new InvalidObjectException(key, reason);
        }
    }

    /// <summary>Why an S3 store at <paramref name="prefix"/> cannot hold <paramref name="key"/>, or null when it can.</summary>
    internal static string? S3Reason(string prefix, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (CommonReason(key) is { } reason)
        {
            return reason;
        }

        if (key[^1] == '/')
        {
            return "key ends with '/', which S3 listings take for a folder marker";
        }

        int bytes = Encoding.UTF8.GetByteCount(prefix) + Encoding.UTF8.GetByteCount(key);
        return bytes > MaxS3KeyBytes
            ? $"key is too long for S3: {bytes} bytes with the prefix, at most {MaxS3KeyBytes}"
            : null;
    }

    /// <summary>Why a folder at <paramref name="rootPath"/> cannot hold <paramref name="key"/>, or null when it can.</summary>
    /// <param name="rootPath">The folder's full path, without a trailing separator.</param>
    /// <param name="key">The key relative to the folder.</param>
    internal static string? FolderReason(string rootPath, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (CommonReason(key) is { } reason)
        {
            return reason;
        }

        if (key[0] == '/')
        {
            return "key starts with '/' (an empty first segment), which a folder cannot hold";
        }

        if (OperatingSystem.IsWindows() && (key.Contains('\\', StringComparison.Ordinal) || Path.IsPathRooted(key)))
        {
            return "key contains a backslash, a folder separator here";
        }

        ReadOnlySpan<char> rest = key;
        while (true)
        {
            int slash = rest.IndexOf('/');
            ReadOnlySpan<char> segment = slash < 0 ? rest : rest[..slash];
            if (segment.Length == 0)
            {
                return slash < 0
                    ? "key ends with '/' (an empty last segment), which a folder cannot hold"
                    : "key has an empty segment ('//'), which a folder cannot hold";
            }

            if (segment is "..")
            {
                return "key has a '..' segment; a folder cannot hold it (it would escape the folder or name another file)";
            }

            if (segment is ".")
            {
                return "key has a '.' segment; a folder cannot hold it (it would name another file)";
            }

            int nameBytes = Encoding.UTF8.GetByteCount(segment);
            if (nameBytes > MaxNameBytes)
            {
                return $"a segment of the key is too long for a file name: {nameBytes} bytes, at most {MaxNameBytes}";
            }

            if (slash < 0)
            {
                break;
            }

            rest = rest[(slash + 1)..];
        }

        int pathBytes = Encoding.UTF8.GetByteCount(rootPath) + 1 + Encoding.UTF8.GetByteCount(key);
        return pathBytes > MaxPathBytes
            ? $"key makes a path too long for the file system: {pathBytes} bytes, at most {MaxPathBytes}"
            : null;
    }

    /// <summary>The key as a ledger row can hold it: each NUL written as the six characters <c>\u0000</c>.</summary>
    /// <remarks>Only a key refused for its NUL is ever recorded this way; every other key is recorded as it is.</remarks>
    public static string Recordable(string key) =>
        key.Contains('\0', StringComparison.Ordinal) ? key.Replace("\0", "\\u0000", StringComparison.Ordinal) : key;

    /// <summary>The key as a terminal can show it: control characters written as <c>\uXXXX</c>.</summary>
    /// <remarks>A key may hold escape sequences; written raw to a terminal they would act instead of showing.</remarks>
    public static string Printable(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.AsSpan().ContainsAny(s_controls))
        {
            return key;
        }

        var text = new StringBuilder(key.Length + 8);
        foreach (char c in key)
        {
            if (s_controls.Contains(c))
            {
                text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    private static string? CommonReason(string key)
    {
        if (key.Length == 0)
        {
            return "key is empty";
        }

        return key.Contains('\0', StringComparison.Ordinal) ? "key contains a NUL character" : null;
    }
}
