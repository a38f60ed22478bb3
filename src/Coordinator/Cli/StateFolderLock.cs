using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PosCuda.Coordinator.Cli;

/// <summary>An exclusive lock on a protect state folder, so two runs never share one ledger.</summary>
/// <remarks>
/// A POSIX <c>flock</c> on <c>STATE/lock</c>, taken directly: the tool turns .NET's own per-file locking off
/// (<c>System.IO.DisableFileLocking</c>) because it costs four system calls per object. The kernel drops the lock
/// when the process dies, so a <c>kill -9</c> never leaves a stale lock behind.
/// </remarks>
public sealed partial class StateFolderLock : IDisposable
{
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private readonly FileStream _file;

    private StateFolderLock(FileStream file)
    {
        _file = file;
    }

    /// <summary>Takes the lock on <paramref name="statePath"/>.</summary>
    /// <exception cref="InvalidOperationException">Another process holds it.</exception>
    public static StateFolderLock Acquire(string statePath)
    {
        var file = new FileStream(Path.Combine(statePath, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        SafeFileHandle handle = file.SafeFileHandle;
        if (Flock((int)handle.DangerousGetHandle(), LockExclusive | LockNonBlocking) != 0)
        {
            file.Dispose();
            throw new InvalidOperationException($"Another poscuda protect is using the state folder {statePath}; wait for it or pass another --state.");
        }

        return new StateFolderLock(file);
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);
}
