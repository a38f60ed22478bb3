using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace PosCuda.Shared.Protection;

/// <summary>Reads and writes keyring files: JSON (<see cref="KeyringJson"/>) with mode 0600 (docs/spec.md, "Keyring").</summary>
/// <remarks>
/// <see cref="Load"/> refuses a file that any group or other permission bit opens up; <see cref="Save"/> replaces a file
/// atomically and the file never exists with a wider mode. Every buffer that held secret bytes is wiped after use, and
/// no message contains a secret or a part of one.
/// </remarks>
public static class KeyringFile
{
    /// <summary>The value of the file's <c>format</c> field.</summary>
    public const string Format = KeyringJson.Format;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // A keyring with 2040 versions is still far below this; anything larger is not a keyring.
    private const int MaxFileBytes = 1 << 20;

    /// <summary>Loads a keyring file, refusing one readable by group or others.</summary>
    /// <exception cref="KeyringException">The file cannot be read, is open to group or others, or is malformed.</exception>
    public static Keyring Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] content = ReadPrivateFile(path);
        try
        {
            return KeyringJson.Parse(content, path);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>Writes <paramref name="keyring"/> to <paramref name="path"/> atomically, with mode 0600.</summary>
    /// <remarks>
    /// The bytes go to a new file in the same folder, created with mode 0600, flushed to disk, and renamed over
    /// <paramref name="path"/>; a reader sees the old file or the new one, and neither is ever readable by others.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The keyring is not consistent (one active version, named by <c>active</c>).</exception>
    public static void Save(Keyring keyring, string path)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (keyring.FindInconsistency() is { } problem)
        {
            throw new InvalidOperationException($"keyring {keyring.KeyId} cannot be saved: {problem}");
        }

        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException("The path has no folder.", nameof(path));
        string temporary = Path.Combine(
            folder, $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        byte[] json = KeyringJson.Serialize(keyring);
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(json);
        }
    }

    private static string FormatMode(UnixFileMode mode)
        => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>Reads a file that must not be open to group or others (keyrings, vault keys), checked on the open handle.</summary>
    internal static byte[] ReadPrivateFile(string path)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);

            // Checked on the open handle, so the file read is the file checked.
            if (!OperatingSystem.IsWindows())
            {
                UnixFileMode mode = File.GetUnixFileMode(handle);
                if ((mode & GroupOrOther) != 0)
                {
                    throw new KeyringException(
                        path, $"is readable by group or others (mode {FormatMode(mode)}); run chmod 600");
                }
            }

            long length = RandomAccess.GetLength(handle);
            if (length > MaxFileBytes)
            {
                throw new KeyringException(path, $"is malformed: {length} bytes is too large for a keyring");
            }

            byte[] content = new byte[length];
            int total = 0;
            while (total < content.Length)
            {
                int read = RandomAccess.Read(handle, content.AsSpan(total), total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            if (total == content.Length)
            {
                return content;
            }

            // The file shrank while being read: keep what was read, and wipe the longer buffer's copy of the secret.
            byte[] exact = content[..total];
            CryptographicOperations.ZeroMemory(content);
            return exact;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyringException(path, $"cannot be read: {e.Message}", e);
        }
    }
}
