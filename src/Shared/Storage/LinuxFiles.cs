using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PosCuda.Shared.Storage;

/// <summary>Whole-file reads and writes through Linux system calls, for the folder store's per-object path.</summary>
/// <remarks>
/// <para>.NET's file APIs spend system calls a batch job does not need: an <c>lstat</c> before a read, an <c>fstat</c>
/// after every open, an <c>lseek</c> to learn whether the file can seek, and two <c>lstat</c>s before a rename. On a
/// RAM-backed folder those calls are most of the work, so the store reads a file with <c>open</c>, <c>statx</c>,
/// <c>read</c>, <c>close</c> and writes one with <c>open</c>, <c>write</c>, <c>statx</c>, <c>close</c>, <c>rename</c>.</para>
/// <para>Names are resolved in a folder the caller holds open (<c>openat</c>, <c>renameat</c>), so the kernel looks up
/// one name rather than walking the whole path for each call.</para>
/// <para>Every call returns an errno rather than throwing, so the store maps each one to the error its callers expect.
/// Only x64 and Arm64 Linux are supported (the open flags differ by architecture); elsewhere the store uses .NET's APIs.</para>
/// </remarks>
internal static partial class LinuxFiles
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EACCES = 13;
    public const int EPERM = 1;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EROFS = 30;
    public const int ENAMETOOLONG = 36;
    public const int ENOTEMPTY = 39;
    public const int EXDEV = 18;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;
    public const int ELOOP = 40;

    private const int ReadOnly = 0x0;
    private const int WriteOnly = 0x1;
    private const int Create = 0x40;
    private const int Exclusive = 0x80;
    private const int NonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const int EmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int FileTypeMask = 0xF000;
    private const int RegularFile = 0x8000;
    private const int DirectoryFile = 0x4000;
    private const int NewFileMode = 0x1B6; // 0666, less the process umask, as .NET creates files.
    private const int PathOnly = 0x200000;
    private const uint Ficlone = 0x40049409;

    // O_NOFOLLOW and O_DIRECTORY differ between the two architectures; the other flags are the same on both.
    private static readonly int s_noFollow = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;
    private static readonly int s_directory = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;

    /// <summary><c>AT_FDCWD</c>: names are paths, resolved from the working directory (absolute paths: from the root).</summary>
    public const int NoFolder = -100;

    /// <summary>Whether this process can use these calls.</summary>
    public static bool IsSupported { get; } =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>What a read found: the bytes (of which <paramref name="Length"/> were read: fewer than rented if the file
    /// shrank meanwhile), the file's last write time and kind.</summary>
    public readonly record struct ReadResult(int Errno, ObjectContent? Content, DateTime LastWriteTimeUtc, FileKind Kind, int Length = 0);

    /// <summary>The kind of file an open descriptor refers to.</summary>
    public enum FileKind
    {
        Regular,
        Directory,
        Other,
    }

    /// <summary>Opens a folder for use as the base of the other calls (<c>O_PATH</c>: no read access is needed).</summary>
    /// <returns>The handle, or null and the errno.</returns>
    public static SafeFileHandle? OpenFolder(string path, out int errno)
    {
        int fd = OpenRetrying(NoFolder, path, PathOnly | s_directory | CloseOnExec, 0);
        errno = fd < 0 ? -fd : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Reads a whole regular file without following a link in its last component.</summary>
    /// <param name="folder">The descriptor <paramref name="name"/> is relative to, or <see cref="NoFolder"/>.</param>
    /// <param name="name">The file's name in <paramref name="folder"/>, or its path.</param>
    /// <param name="maxLength">Longer files are not read (the result has no content).</param>
    /// <returns>Errno 0 and the bytes (in a pooled buffer); or the kind when it is not a regular file; or the errno that stopped it
    /// (<see cref="ELOOP"/>: the path names a symbolic link).</returns>
    public static ReadResult ReadFile(int folder, string name, long maxLength)
    {
        int fd = OpenRetrying(folder, name, ReadOnly | CloseOnExec | NonBlocking | s_noFollow, 0);
        if (fd < 0)
        {
            return new ReadResult(-fd, null, default, FileKind.Other);
        }

        try
        {
            int errno = Stat(fd, out Statx status);
            if (errno != 0)
            {
                return new ReadResult(errno, null, default, FileKind.Other);
            }

            FileKind kind = (status.Mode & FileTypeMask) switch
            {
                RegularFile => FileKind.Regular,
                DirectoryFile => FileKind.Directory,
                _ => FileKind.Other,
            };
            DateTime lastWrite = status.LastWriteTimeUtc;
            if (kind != FileKind.Regular || (long)status.Size > maxLength)
            {
                return new ReadResult(0, null, lastWrite, kind);
            }

            var content = ObjectContent.Rent((int)status.Size);
            Span<byte> data = content.Data.Span;
            int read = 0;
            while (read < data.Length)
            {
                long n = Read(fd, data[read..]);
                if (n < 0)
                {
                    content.Dispose();
                    return new ReadResult((int)-n, null, lastWrite, kind);
                }

                if (n == 0)
                {
                    break; // The file shrank since the stat: the caller keeps what it holds now.
                }

                read += (int)n;
            }

            return new ReadResult(0, content, lastWrite, kind, read);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Creates <paramref name="name"/> in <paramref name="folder"/> (it must not exist) holding <paramref name="data"/>.</summary>
    /// <returns>0 and the file's last write time, or the errno that stopped it (the file may then exist, partly written).</returns>
    public static int CreateFile(int folder, string name, ReadOnlySpan<byte> data, out DateTime lastWriteTimeUtc)
    {
        lastWriteTimeUtc = default;
        int fd = OpenRetrying(folder, name, WriteOnly | Create | Exclusive | CloseOnExec, NewFileMode);
        if (fd < 0)
        {
            return -fd;
        }

        int errno = WriteAll(fd, data);
        Statx status = default;
        if (errno == 0)
        {
            errno = Stat(fd, out status);
        }

        // A failed close after a write can mean lost data (NFS): report it.
        if (Close(fd) != 0 && errno == 0)
        {
            errno = Marshal.GetLastPInvokeError();
        }

        lastWriteTimeUtc = status.LastWriteTimeUtc;
        return errno;
    }

    /// <summary>Copies <paramref name="length"/> bytes of <paramref name="source"/> to the same offsets of
    /// <paramref name="destination"/> inside the kernel: a reflink (<c>FICLONE</c>) of the whole file where the file
    /// system shares blocks and the copy is the whole file, else <c>copy_file_range</c>.</summary>
    /// <returns>0 when all was copied; or the errno that stopped it, with <paramref name="copied"/> the bytes copied at the
    /// start (<c>EXDEV</c>, <c>EINVAL</c>, <c>ENOSYS</c>, <c>EOPNOTSUPP</c>: the kernel cannot copy between these files;
    /// copy the rest another way).</returns>
    public static unsafe int CopyRange(SafeFileHandle source, SafeFileHandle destination, long length, bool wholeFile, out long copied)
    {
        copied = 0;
        int from = (int)source.DangerousGetHandle();
        int to = (int)destination.DangerousGetHandle();
        if (wholeFile && CloneNative(to, Ficlone, from) == 0)
        {
            copied = length;
            return 0;
        }

        return CopyRangeAt(source, destination, 0, length, out copied);
    }

    /// <summary>Copies <paramref name="length"/> bytes at <paramref name="offset"/> of <paramref name="source"/> to the same offset of <paramref name="destination"/> in the kernel (<c>copy_file_range</c>).</summary>
    /// <returns>0, or the errno (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: copy some other way from <c>offset + copied</c>).</returns>
    public static unsafe int CopyRangeAt(SafeFileHandle source, SafeFileHandle destination, long offset, long length, out long copied)
    {
        copied = 0;
        int from = (int)source.DangerousGetHandle();
        int to = (int)destination.DangerousGetHandle();
        long inOffset = offset;
        long outOffset = offset;
        while (copied < length)
        {
            nint n = CopyFileRangeNative(from, &inOffset, to, &outOffset, (nuint)Math.Min(length - copied, 1L << 30), 0);
            if (n > 0)
            {
                copied += n;
                continue;
            }

            if (n == 0)
            {
                return EINVAL; // The source ended early (it shrank): let the caller's check find out why.
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                return errno;
            }
        }

        return 0;
    }

    /// <summary>Renames <paramref name="from"/> over <paramref name="to"/> (both in <paramref name="folder"/>) atomically.</summary>
    /// <returns>0, or the errno.</returns>
    public static int Rename(int folder, string from, string to) =>
        RenameNative(folder, from, folder, to) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The system's text for an errno.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    private static int OpenRetrying(int folder, string name, int flags, int mode)
    {
        while (true)
        {
            int fd = OpenNative(folder, name, flags, mode);
            if (fd >= 0)
            {
                return fd;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                return -errno;
            }
        }
    }

    private static unsafe long Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = ReadNative(fd, p, buffer.Length);
                if (n >= 0)
                {
                    return n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    return -errno;
                }
            }
        }
    }

    private static unsafe int WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int written = 0;
            while (written < data.Length)
            {
                nint n = WriteNative(fd, p + written, data.Length - written);
                if (n >= 0)
                {
                    written += (int)n;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    return errno;
                }
            }

            return 0;
        }
    }

    private static unsafe int Stat(int fd, out Statx status)
    {
        fixed (Statx* p = &status)
        {
            return StatxNative(fd, string.Empty, EmptyPath, StatxBasicStats, p) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static unsafe partial nint CopyFileRangeNative(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    // ioctl(2) is variadic in C; FICLONE's one argument (the source descriptor) is passed like a fixed one on x64 and Arm64.
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int CloneNative(int fd, nuint request, int sourceFd);

    // openat(2) is variadic in C; on x64 and Arm64 Linux the mode argument is passed exactly like a fixed one.
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(int folder, string name, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadNative(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameNative(int fromFolder, string from, int toFolder, string to);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxNative(int dirfd, string path, int flags, uint mask, Statx* buffer);

    /// <summary><c>struct statx</c>: the same layout on every Linux architecture (256 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(40)]
        public ulong Size;

        [FieldOffset(112)]
        public long MtimeSeconds;

        [FieldOffset(120)]
        public uint MtimeNanoseconds;

        public readonly DateTime LastWriteTimeUtc =>
            DateTime.UnixEpoch.AddTicks((MtimeSeconds * TimeSpan.TicksPerSecond) + (MtimeNanoseconds / 100));
    }
}
