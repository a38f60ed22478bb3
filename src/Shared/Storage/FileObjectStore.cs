using System.Collections.Concurrent;
using System.IO.Enumeration;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace PosCuda.Shared.Storage;

/// <summary>An object store over a local folder: keys are paths relative to the root, '/'-separated.</summary>
/// <remarks>
/// <para>ETag: a cheap fingerprint of a file, <c>{lastWriteTimeUtc.Ticks:x}-{length:x}</c>, read from the same
/// stat the listing or read already does; it changes whenever a writer changes the file's size or time.</para>
/// <para>Listing is recursive and ordered by key (ordinal), streaming folder by folder. It skips this store's own
/// temporary files (<c>.{name}.poscuda-tmp-{random}</c>). It does not descend into symbolic links to folders; a link
/// to a file (or a dangling link, or a link to a folder outside the root) is listed under its own key, and
/// <see cref="GetAsync"/> refuses it when it points outside the root, so a job reports it instead of losing it.</para>
/// <para>Writes go to a temporary file in the target folder that is then renamed over the target, so a reader sees
/// the old file or the new one, never a half-written one. Nothing is flushed to disk (no fsync): the work ledger, not
/// the file system, is what survives a crash, and a lost write is rewritten by the retry.</para>
/// <para>Object metadata has nowhere to go in a folder and is ignored.</para>
/// </remarks>
public sealed partial class FileObjectStore : IConditionalObjectStore
{
    /// <summary>The marker in the names of this store's temporary files.</summary>
    public const string TempFileMarker = ".poscuda-tmp-";

    private static readonly EnumerationOptions s_enumerationOptions = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
        MatchType = MatchType.Simple,
    };

    // The folder each thread last read from and wrote to, held open (Linux): a job works through a folder's clips one
    // after another, and opening by name within a held folder spares the kernel a walk down the whole path. Each
    // handle belongs to one thread, so none is closed while in use.
    [ThreadStatic]
    private static FolderHandle? t_readFolder;
    [ThreadStatic]
    private static FolderHandle? t_writeFolder;

    // Folders known to exist (for writes) and known to resolve inside the root (for reads): one syscall each, once.
    private readonly ConcurrentDictionary<string, byte> _createdFolders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _checkedFolders = new(StringComparer.Ordinal);
    private readonly string _rootWithSeparator;
    private string? _realRoot;

    /// <summary>Opens the folder at <paramref name="location"/> (a path or <c>file://</c> URI); it need not exist yet.</summary>
    public FileObjectStore(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        Location = location;
        RootPath = LocalPaths.ToFullPath(location);
        _rootWithSeparator = LocalPaths.WithTrailingSeparator(RootPath);
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>The full path of the root folder, without a trailing separator.</summary>
    public string RootPath { get; }

    // The root with every link resolved, computed on first need (the root may not exist when a destination opens).
    private string RealRoot => _realRoot ??= LocalPaths.ResolveLinks(RootPath);

    /// <summary>Formats the ETag of a file from its last write time and length.</summary>
    public static string FormatETag(DateTime lastWriteTimeUtc, long length) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{lastWriteTimeUtc.Ticks:x}-{length:x}");

    /// <summary>Whether a file name is one of this store's temporary files.</summary>
    public static bool IsTempFileName(ReadOnlySpan<char> name) =>
        name.Length > 0 && name[0] == '.' && name.Contains(TempFileMarker, StringComparison.Ordinal);

    /// <inheritdoc />
    /// <exception cref="PosCudaException">The root folder does not exist or a folder cannot be read.</exception>
    public async IAsyncEnumerable<StoredObject> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!Directory.Exists(RootPath))
        {
            throw new PosCudaException($"Folder not found: {RootPath}");
        }

        // A depth-first walk where each folder is read once and sorted with folder names as "name/", which yields
        // every key in global ordinal order while holding only one folder's entries per level in memory.
        var stack = new Stack<(Entry[] Entries, int Next, string Prefix, string Folder)>();
        stack.Push((ReadFolder(RootPath), 0, string.Empty, RootPath));
        int sinceYield = 0;
        while (stack.TryPop(out var frame))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (frame.Next >= frame.Entries.Length)
            {
                continue;
            }

            Entry entry = frame.Entries[frame.Next];
            stack.Push(frame with { Next = frame.Next + 1 });
            string key = frame.Prefix + entry.Name;
            if (entry.Kind == EntryKind.Folder)
            {
                string folder = Path.Join(frame.Folder, entry.Name);
                stack.Push((ReadFolder(folder), 0, key + "/", folder));
                continue;
            }

            StoredObject? stored = entry.Kind == EntryKind.File
                ? new StoredObject(key, entry.Length, FormatETag(entry.LastWriteTimeUtc, entry.Length))
                : DescribeLink(key, Path.Join(frame.Folder, entry.Name));
            if (stored is null)
            {
                continue;
            }

            yield return stored;

            // Enumeration is synchronous; let a consumer on a single-threaded context breathe now and then.
            if (++sinceYield == 4096)
            {
                sinceYield = 0;
                await Task.Yield();
            }
        }
    }

    /// <inheritdoc />
    public Task<ObjectContent> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ObjectContent>(cancellationToken);
        }

        try
        {
            return Task.FromResult(Read(key));
        }
        catch (Exception ex)
        {
            return Task.FromException<ObjectContent>(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>Metadata is ignored: a folder has nowhere to keep it.</remarks>
    public Task<string?> PutAsync(string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<string?>(cancellationToken);
        }

        try
        {
            return Task.FromResult<string?>(Write(key, data.Span));
        }
        catch (Exception ex)
        {
            return Task.FromException<string?>(ex);
        }
    }

    /// <inheritdoc />
    public Task<ObjectReader> OpenReadAsync(string key, int prefixLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ObjectReader>(cancellationToken);
        }

        try
        {
            return Task.FromResult<ObjectReader>(OpenReader(key, prefixLength));
        }
        catch (Exception ex)
        {
            return Task.FromException<ObjectReader>(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The copy is made in the kernel when the source is a file too (a reflink where the file system shares blocks,
    /// else <c>copy_file_range</c>), then the patches are written over it, then the temporary file is renamed over the
    /// target. A source read through another store is copied through a bounded buffer. Metadata is ignored.
    /// </remarks>
    public Task<PatchedWrite> PutPatchedAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(patches);
        if (source.HoldsWholeObject)
        {
            // A short object: one write of the patched bytes costs less than a copy plus a write.
            return PutWholeAsync(key, source, patches, cancellationToken);
        }

        return PutCopyAsync(key, source, patches, cancellationToken);
    }

    private async Task<PatchedWrite> PutWholeAsync(string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, CancellationToken cancellationToken)
    {
        int length = source.Prefix.Length;
        byte[] data = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            source.Prefix.Span.CopyTo(data);
            ObjectPatch.ApplyTo(data.AsSpan(0, length), 0, patches);
            string? etag = await PutAsync(key, data.AsMemory(0, length), s_noMetadata, cancellationToken).ConfigureAwait(false);
            return new PatchedWrite(etag, length, 0);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(data);
        }
    }

    private Task<PatchedWrite> PutCopyAsync(string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, CancellationToken cancellationToken) =>
        WriteCopyAsync(key, source, async handle =>
        {
            long written = 0;
            long copied = 0;
            if (source is FileObjectReader file && LinuxFiles.IsSupported)
            {
                int errno = LinuxFiles.CopyRange(file.Handle, handle, source.Length, wholeFile: true, out copied);
                if (errno is not (0 or LinuxFiles.EXDEV or LinuxFiles.EINVAL or LinuxFiles.ENOSYS or LinuxFiles.EOPNOTSUPP))
                {
                    throw new PosCudaException($"Writing {key} failed: {LinuxFiles.Describe(errno)}", isTransient: true);
                }
            }

            if (copied < source.Length)
            {
                written += await CopyThroughBufferAsync(source, handle, copied, cancellationToken).ConfigureAwait(false);
            }

            foreach (ObjectPatch patch in patches)
            {
                RandomAccess.Write(handle, patch.Bytes.Span, patch.Offset);
                written += patch.Bytes.Length;
            }

            return (written, copied);
        });

    // Writes a copy of the source into a temporary file beside the key (body returns the bytes it wrote through the process
    // and those the kernel copied), checks the source did not change meanwhile, and renames it over the key: a reader
    // never sees half a copy, and a failure leaves no temporary file behind.
    private async Task<PatchedWrite> WriteCopyAsync(string key, ObjectReader source, Func<SafeFileHandle, Task<(long Written, long CopiedByStore)>> body)
    {
        string path = ResolveKey(key);
        string name = Path.GetFileName(path);
        if (IsTempFileName(name))
        {
            throw new InvalidObjectException(key, "key names a temporary file of this store");
        }

        string folder = Path.GetDirectoryName(path)!;
        EnsureFolderExists(key, folder);
        string tempPath = Path.Join(folder, TempName(name));
        bool renamed = false;
        try
        {
            (long written, long copiedByStore) counts;
            DateTime lastWrite;
            using (SafeFileHandle handle = OpenTemp(key, tempPath, folder))
            {
                counts = await body(handle).ConfigureAwait(false);
                if (source is FileObjectReader reader)
                {
                    reader.ThrowIfChanged();
                }

                lastWrite = File.GetLastWriteTimeUtc(handle);
            }

            File.Move(tempPath, path, overwrite: true);
            renamed = true;
            return new PatchedWrite(FormatETag(lastWrite, source.Length), counts.written, counts.copiedByStore);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !renamed)
        {
            throw CopyWriteFailure(key, path, ex);
        }
        finally
        {
            if (!renamed)
            {
                TryDelete(tempPath);
            }
        }
    }

    // What a failed write of a patched or streamed copy (into a temporary file, renamed over the key) means for the caller.
    private static Exception CopyWriteFailure(string key, string path, Exception ex) => ex switch
    {
        UnauthorizedAccessException => new PosCudaException($"Writing {key} failed: permission denied", isTransient: false, ex),
        PathTooLongException => new InvalidObjectException(key, "name too long for this file system", ex),
        _ when Directory.Exists(path) => new InvalidObjectException(key, "a folder is in the way", ex),
        _ => new PosCudaException($"Writing {key} failed: {ex.Message}", isTransient: true, ex),
    };

    // Copies the source from offset on through one bounded buffer (a source in another store, or a kernel that cannot copy).
    private static async Task<long> CopyThroughBufferAsync(ObjectReader source, SafeFileHandle destination, long offset, CancellationToken cancellationToken)
    {
        const int BufferSize = 1 << 20;
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long start = offset;
            while (offset < source.Length)
            {
                int count = (int)Math.Min(BufferSize, source.Length - offset);
                await source.ReadAsync(offset, buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                await RandomAccess.WriteAsync(destination, buffer.AsMemory(0, count), offset, cancellationToken).ConfigureAwait(false);
                offset += count;
            }

            return offset - start;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private ObjectReader OpenReader(string key, int prefixLength)
    {
        string path = ResolveKey(key);
        EnsureFolderInsideRoot(key, path);
        // A short file is read whole in one open, stat and read, as GetAsync does; a longer one is opened for ranges.
        if (LinuxFiles.IsSupported && TryReadLinux(key, path, prefixLength) is { } content)
        {
            return new BufferedObjectReader(key, content);
        }

        (path, _) = StatFile(key, path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.None);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidObjectException(key, "object not found", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new InvalidObjectException(key, "permission denied", ex);
        }
        catch (IOException ex)
        {
            throw new PosCudaException($"Reading {key} failed: {ex.Message}", isTransient: true, ex);
        }

        try
        {
            long length = RandomAccess.GetLength(handle);
            DateTime lastWrite = File.GetLastWriteTimeUtc(handle);
            byte[] prefix = new byte[Math.Min(prefixLength, length)];
            int read = 0;
            while (read < prefix.Length)
            {
                int n = RandomAccess.Read(handle, prefix.AsSpan(read), read);
                if (n == 0)
                {
                    throw new SourceChangedException(key, "the file shrank while it was being read");
                }

                read += n;
            }

            return new FileObjectReader(key, handle, length, lastWrite, prefix);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Deletes temporary files left by writers that died between writing and renaming.</summary>
    /// <remarks>Call it only while no other process writes into this folder (the single-machine tool holds its state lock).</remarks>
    /// <returns>The number of files deleted.</returns>
    public int DeleteTempFiles()
    {
        if (!Directory.Exists(RootPath))
        {
            return 0;
        }

        int deleted = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (string path in Directory.EnumerateFiles(RootPath, "*" + TempFileMarker + "*", options))
        {
            if (IsTempFileName(Path.GetFileName(path.AsSpan())))
            {
                TryDelete(path);
                deleted++;
            }
        }

        return deleted;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private ObjectContent Read(string key)
    {
        string path = ResolveKey(key);
        EnsureFolderInsideRoot(key, path);
        // Beyond what one array holds, the portable path reports the object as too large to read into memory.
        return LinuxFiles.IsSupported && TryReadLinux(key, path, MaxReadLength) is { } content ? content : ReadPortable(key, path);
    }

    private const long MaxReadLength = 0x7FFFFFC7;

    // The whole file in one open, stat and read when it holds at most maxLength bytes; null when it is longer, or a
    // symbolic link (the portable path resolves it and checks where it leads).
    private static ObjectContent? TryReadLinux(string key, string path, long maxLength)
    {
        LinuxFiles.ReadResult read = ReadLinux(path, maxLength);
        switch (read.Errno)
        {
            case 0 when read.Content is { } content:
                content.Complete(read.Length, FormatETag(read.LastWriteTimeUtc, read.Length));
                return content;
            case 0 when read.Kind == LinuxFiles.FileKind.Directory:
                throw new InvalidObjectException(key, "is a folder, not a file");
            case 0 when read.Kind == LinuxFiles.FileKind.Other:
                throw new InvalidObjectException(key, "not a regular file");
            case 0 or LinuxFiles.ELOOP:
                return null;
            case LinuxFiles.ENOENT or LinuxFiles.ENOTDIR:
                throw new InvalidObjectException(key, "object not found");
            case LinuxFiles.EACCES or LinuxFiles.EPERM:
                throw new InvalidObjectException(key, "permission denied");
            case LinuxFiles.ENAMETOOLONG:
                throw new InvalidObjectException(key, "name too long for this file system");
            default:
                throw new PosCudaException($"Reading {key} failed: {LinuxFiles.Describe(read.Errno)}", isTransient: true);
        }
    }

    // One lstat: existence, kind, link or not, length and time (of the link's target, inside the root, when it is one).
    private (string Path, FileInfo Info) StatFile(string key, string path)
    {
        var info = new FileInfo(path);
        FileAttributes attributes = info.Attributes;
        if ((int)attributes == -1)
        {
            throw new InvalidObjectException(key, "object not found");
        }

        if ((attributes & FileAttributes.ReparsePoint) != 0)
        {
            path = ResolveLinkInsideRoot(key, path);
            info = new FileInfo(path);
            attributes = info.Attributes;
            if ((int)attributes == -1)
            {
                throw new InvalidObjectException(key, "symlink target not found");
            }
        }

        if ((attributes & FileAttributes.Directory) != 0)
        {
            throw new InvalidObjectException(key, "is a folder, not a file");
        }

        return (path, info);
    }

    // Reads through this thread's handle on the file's folder, so the kernel resolves one name instead of a path.
    // An object that seems missing is looked up once more by its path: the folder may have been replaced since.
    private static LinuxFiles.ReadResult ReadLinux(string path, long maxLength)
    {
        ReadOnlySpan<char> folder = Path.GetDirectoryName(path.AsSpan());
        int fd = FolderHandle.Get(ref t_readFolder, folder);
        if (fd == LinuxFiles.NoFolder)
        {
            return LinuxFiles.ReadFile(LinuxFiles.NoFolder, path, maxLength);
        }

        LinuxFiles.ReadResult read = LinuxFiles.ReadFile(fd, Path.GetFileName(path), maxLength);
        if (read.Errno == LinuxFiles.ENOENT)
        {
            FolderHandle.Forget(ref t_readFolder);
            read = LinuxFiles.ReadFile(LinuxFiles.NoFolder, path, maxLength);
        }

        return read;
    }

    private ObjectContent ReadPortable(string key, string path)
    {
        (path, FileInfo info) = StatFile(key, path);
        long length = info.Length;
        if (length > Array.MaxLength)
        {
            throw new InvalidObjectException(key, "object too large to read into memory");
        }

        string etag = FormatETag(info.LastWriteTimeUtc, length);
        byte[] data = length == 0 ? [] : new byte[length];
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
            int read = 0;
            while (read < data.Length)
            {
                int n = RandomAccess.Read(handle, data.AsSpan(read), read);
                if (n == 0)
                {
                    // The file shrank between stat and read: report what it holds now.
                    Array.Resize(ref data, read);
                    etag = FormatETag(File.GetLastWriteTimeUtc(handle), read);
                    break;
                }

                read += n;
            }
        }
        catch (FileNotFoundException ex)
        {
            throw new InvalidObjectException(key, "object not found", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new InvalidObjectException(key, "object not found", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new InvalidObjectException(key, "permission denied", ex);
        }
        catch (IOException ex)
        {
            throw new PosCudaException($"Reading {key} failed: {ex.Message}", isTransient: true, ex);
        }

        return new ObjectContent(data, etag);
    }

    private string Write(string key, ReadOnlySpan<byte> data)
    {
        string path = ResolveKey(key);
        string name = Path.GetFileName(path);
        if (IsTempFileName(name))
        {
            throw new InvalidObjectException(key, "key names a temporary file of this store");
        }

        string folder = Path.GetDirectoryName(path)!;
        EnsureFolderExists(key, folder);
        string tempName = TempName(name);
        string tempPath = Path.Join(folder, tempName);
        if (LinuxFiles.IsSupported)
        {
            return WriteLinux(key, new WriteTarget(path, folder, name, tempPath, tempName), data);
        }

        try
        {
            DateTime lastWrite;
            using (SafeFileHandle handle = OpenTemp(key, tempPath, folder))
            {
                RandomAccess.Write(handle, data, 0);
                lastWrite = File.GetLastWriteTimeUtc(handle);
            }

            File.Move(tempPath, path, overwrite: true);
            return FormatETag(lastWrite, data.Length);
        }
        catch (Exception ex)
        {
            TryDelete(tempPath);
            Exception? mapped = ex switch
            {
                PosCudaException => null,
                UnauthorizedAccessException => new PosCudaException($"Writing {key} failed: permission denied", isTransient: false, ex),
                PathTooLongException => new InvalidObjectException(key, "name too long for this file system", ex),
                IOException when Directory.Exists(path) => new InvalidObjectException(key, "a folder is in the way", ex),
                IOException => new PosCudaException($"Writing {key} failed: {ex.Message}", isTransient: true, ex),
                _ => null,
            };
            if (mapped is null)
            {
                throw;
            }

            throw mapped;
        }
    }

    private string WriteLinux(string key, WriteTarget target, ReadOnlySpan<byte> data)
    {
        // Through this thread's handle on the folder: the kernel resolves two short names instead of three paths.
        (string path, string folder, string name, string tempPath, string tempName) = target;
        int fd = FolderHandle.Get(ref t_writeFolder, folder);
        int errno = fd == LinuxFiles.NoFolder
            ? LinuxFiles.CreateFile(LinuxFiles.NoFolder, tempPath, data, out DateTime lastWrite)
            : LinuxFiles.CreateFile(fd, tempName, data, out lastWrite);
        if (errno == LinuxFiles.ENOENT)
        {
            // Someone removed a folder we had created: forget it and create it again, once.
            FolderHandle.Forget(ref t_writeFolder);
            _createdFolders.TryRemove(folder, out _);
            EnsureFolderExists(key, folder);
            fd = LinuxFiles.NoFolder;
            errno = LinuxFiles.CreateFile(fd, tempPath, data, out lastWrite);
        }

        if (errno == 0)
        {
            errno = fd == LinuxFiles.NoFolder ? LinuxFiles.Rename(fd, tempPath, path) : LinuxFiles.Rename(fd, tempName, name);
        }

        if (errno == 0)
        {
            return FormatETag(lastWrite, data.Length);
        }

        TryDelete(tempPath);
        throw errno switch
        {
            LinuxFiles.EACCES or LinuxFiles.EPERM => new PosCudaException($"Writing {key} failed: permission denied", isTransient: false),
            LinuxFiles.EROFS => new PosCudaException($"Writing {key} failed: {LinuxFiles.Describe(errno)}", isTransient: false),
            LinuxFiles.EISDIR or LinuxFiles.ENOTEMPTY or LinuxFiles.EEXIST when Directory.Exists(path) =>
                new InvalidObjectException(key, "a folder is in the way"),
            LinuxFiles.ENAMETOOLONG => new InvalidObjectException(key, "name too long for this file system"),
            _ => new PosCudaException($"Writing {key} failed: {LinuxFiles.Describe(errno)}", isTransient: true),
        };
    }

    // ".{name}.poscuda-tmp-{16 hex digits}", the name cut short (never inside a character) so that the whole stays
    // within NAME_MAX bytes: a file whose own name is up to 255 bytes long can still be written through it.
    private static string TempName(string name)
    {
        const int Suffix = 1 + 13 + 16; // '.', the marker, the random part
        int keep = name.Length;
        while (System.Text.Encoding.UTF8.GetByteCount(name.AsSpan(0, keep)) > ObjectKeys.MaxNameBytes - Suffix)
        {
            keep--;
            if (keep > 0 && char.IsLowSurrogate(name[keep]))
            {
                keep--;
            }
        }

        return string.Create(
            System.Globalization.CultureInfo.InvariantCulture, $".{name.AsSpan(0, keep)}{TempFileMarker}{Random.Shared.NextInt64():x16}");
    }

    private SafeFileHandle OpenTemp(string key, string tempPath, string folder)
    {
        try
        {
            return File.OpenHandle(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None);
        }
        catch (DirectoryNotFoundException)
        {
            // Someone removed a folder we had created: forget it and create it again, once.
            _createdFolders.TryRemove(folder, out _);
            EnsureFolderExists(key, folder);
            return File.OpenHandle(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None);
        }
    }

    private void EnsureFolderExists(string key, string folder)
    {
        if (_createdFolders.ContainsKey(folder))
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (PathTooLongException ex)
        {
            throw new InvalidObjectException(key, "name too long for this file system", ex);
        }
        catch (IOException ex) when (FileInTheWay(folder))
        {
            // Keys "a.wav" and "a.wav/b.wav" cannot both be files: this object fails, not the rest of its batch.
            throw new InvalidObjectException(key, "a file is in the way of its folder", ex);
        }
        catch (IOException ex)
        {
            throw new PosCudaException($"Creating folder {folder} failed: {ex.Message}", isTransient: false, ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PosCudaException($"Writing {key} failed: permission denied", isTransient: false, ex);
        }

        _createdFolders.TryAdd(folder, 0);
    }

    // Whether a file stands where the folder or one of its parents inside the root should be.
    private bool FileInTheWay(string folder)
    {
        for (string? current = folder; current is not null && current.Length > RootPath.Length; current = Path.GetDirectoryName(current))
        {
            if (File.Exists(current))
            {
                return true;
            }
        }

        return false;
    }

    private string ResolveKey(string key)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.FolderReason(RootPath, key));
        string path = Path.Join(_rootWithSeparator, key);
        if (Path.DirectorySeparatorChar != '/')
        {
            path = path.Replace('/', Path.DirectorySeparatorChar);
        }

        return path;
    }

    // A key's folder may pass through a link to a folder (listing never does, but a key can say so): refuse it
    // when it leads outside the root. Checked once per folder.
    private void EnsureFolderInsideRoot(string key, string path)
    {
        string folder = Path.GetDirectoryName(path)!;
        if (_checkedFolders.ContainsKey(folder))
        {
            return;
        }

        string real;
        try
        {
            real = LocalPaths.ResolveLinks(folder);
        }
        catch (IOException ex)
        {
            // A loop of links: this object is unreadable, the rest of its batch is not.
            throw new InvalidObjectException(key, "symlink cannot be resolved", ex);
        }

        if (!IsInsideRoot(real))
        {
            throw new InvalidObjectException(key, "symlink points outside the source folder");
        }

        _checkedFolders.TryAdd(folder, 0);
    }

    private string ResolveLinkInsideRoot(string key, string path)
    {
        string real;
        try
        {
            real = LocalPaths.ResolveLinks(path);
        }
        catch (IOException ex)
        {
            throw new InvalidObjectException(key, "symlink cannot be resolved", ex);
        }

        if (!IsInsideRoot(real))
        {
            throw new InvalidObjectException(key, "symlink points outside the source folder");
        }

        return real;
    }

    private bool IsInsideRoot(string realPath) =>
        LocalPaths.IsSameOrWithin(realPath, RealRoot) || LocalPaths.IsSameOrWithin(realPath, RootPath);

    // A link is listed with its target's length and fingerprint, unless it is a link to a folder inside the root
    // (not followed: those files are listed where they really are). A link to a folder outside the root, or a
    // dangling one, is listed anyway so that the job reports it rather than silently dropping it.
    private StoredObject? DescribeLink(string key, string path)
    {
        string real;
        try
        {
            real = LocalPaths.ResolveLinks(path);
        }
        catch (IOException)
        {
            return new StoredObject(key, 0, null);
        }

        var info = new FileInfo(real);
        FileAttributes attributes = info.Attributes;
        bool inside = IsInsideRoot(real);
        if ((int)attributes == -1)
        {
            return new StoredObject(key, 0, null);
        }

        if ((attributes & FileAttributes.Directory) != 0)
        {
            return inside ? null : new StoredObject(key, 0, null);
        }

        return new StoredObject(key, info.Length, inside ? FormatETag(info.LastWriteTimeUtc, info.Length) : null);
    }

    private static Entry[] ReadFolder(string folder)
    {
        Entry[] entries;
        try
        {
            entries = [.. new FileSystemEnumerable<Entry>(folder, ToEntry, s_enumerationOptions)
            {
                ShouldIncludePredicate = static (ref FileSystemEntry e) => !IsTempFileName(e.FileName),
            }];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PosCudaException($"Listing folder {folder} failed: {ex.Message}", isTransient: false, ex);
        }

        Array.Sort(entries, static (a, b) => string.CompareOrdinal(a.SortKey, b.SortKey));
        return entries;
    }

    private static Entry ToEntry(ref FileSystemEntry e)
    {
        string name = e.FileName.ToString();
        if ((e.Attributes & FileAttributes.ReparsePoint) != 0)
        {
            return new Entry(name, name, EntryKind.Link, 0, default);
        }

        return e.IsDirectory
            ? new Entry(name, name + "/", EntryKind.Folder, 0, default)
            : new Entry(name, name, EntryKind.File, e.Length, e.LastWriteTimeUtc.UtcDateTime);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class FolderHandle(string path, SafeFileHandle handle)
    {
        // A handle follows its folder if the folder is renamed; reopening by path this often bounds how long a
        // folder renamed or replaced during a job goes on being used. A deleted folder is noticed at once (ENOENT).
        private const long MaxAgeMilliseconds = 1000;

        private readonly string _path = path;
        private readonly SafeFileHandle _handle = handle;
        private readonly long _openedAt = Environment.TickCount64;

        // The descriptor of this thread's handle on folder, opening it when the thread moves on to another folder,
        // or NoFolder when the folder cannot be opened (the caller then goes by the whole path and meets the error).
        public static int Get(ref FolderHandle? slot, ReadOnlySpan<char> folder)
        {
            if (slot is { } held && folder.SequenceEqual(held._path) && Environment.TickCount64 - held._openedAt < MaxAgeMilliseconds)
            {
                return (int)held._handle.DangerousGetHandle();
            }

            Forget(ref slot);
            string path = folder.ToString();
            if (LinuxFiles.OpenFolder(path, out _) is not { } handle)
            {
                return LinuxFiles.NoFolder;
            }

            slot = new FolderHandle(path, handle);
            return (int)handle.DangerousGetHandle();
        }

        public static void Forget(ref FolderHandle? slot)
        {
            slot?._handle.Dispose();
            slot = null;
        }
    }

    // A file read whole when it was opened, in a pooled buffer given back when the reader is disposed.
    private sealed class BufferedObjectReader(string key, ObjectContent content) : ObjectReader(key, content.Length, content.ETag, content.Data)
    {
        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("Every byte of a buffered object is in its prefix.");

        public override ValueTask DisposeAsync()
        {
            content.Dispose();
            return base.DisposeAsync();
        }
    }

    // An open file read at the version it had when opened; the handle keeps the same file even if it is renamed over.
    private sealed class FileObjectReader(string key, SafeFileHandle handle, long length, DateTime lastWrite, byte[] prefix)
        : ObjectReader(key, length, FormatETag(lastWrite, length), prefix)
    {
        public SafeFileHandle Handle { get; } = handle;

        // A writer that changed the file in place (not by renaming over it) changed its time or length.
        public void ThrowIfChanged()
        {
            long length = RandomAccess.GetLength(Handle);
            DateTime lastWrite = File.GetLastWriteTimeUtc(Handle);
            string now = FormatETag(lastWrite, length);
            if (!string.Equals(now, ETag, StringComparison.Ordinal))
            {
                throw new SourceChangedException(Key, $"the file changed while it was being read (ETag {ETag}, now {now})");
            }
        }

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Span<byte> span = destination.Span;
            int read = 0;
            while (read < span.Length)
            {
                int n = RandomAccess.Read(Handle, span[read..], offset + read);
                if (n == 0)
                {
                    throw new SourceChangedException(Key, "the file shrank while it was being read");
                }

                read += n;
            }

            ThrowIfChanged();
            return ValueTask.CompletedTask;
        }

        public override ValueTask DisposeAsync()
        {
            Handle.Dispose();
            return base.DisposeAsync();
        }
    }

    // Where a write goes: the object's path, its folder and name, and the temporary file's path and name.
    private readonly record struct WriteTarget(string Path, string Folder, string Name, string TempPath, string TempName);

    private enum EntryKind
    {
        File,
        Folder,
        Link,
    }

    private readonly record struct Entry(string Name, string SortKey, EntryKind Kind, long Length, DateTime LastWriteTimeUtc);
}
