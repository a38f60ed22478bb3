namespace PosCuda.Shared.Storage;

// Conditional writes (issue 15): the file's tag compared and the file replaced under one exclusive lock on the folder.
public sealed partial class FileObjectStore
{
    // The lock file every conditional writer of this folder takes (flock, through FileShare.None), across processes.
    private const string WriteLockName = ".poscuda/write.lock";
    private readonly SemaphoreSlim _conditionalWrites = new(1, 1);

    /// <inheritdoc />
    /// <remarks>A folder keeps no metadata: the result's is empty.</remarks>
    public Task<ObjectHead?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Head(key));
    }

    /// <inheritdoc />
    /// <remarks>Fences only against writers that also write conditionally; metadata is ignored, as <see cref="PutAsync(string, ReadOnlyMemory{byte}, IReadOnlyDictionary{string, string}, CancellationToken)"/> does.</remarks>
    public async Task<string?> PutAsync(
        string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, WriteCondition condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(condition);
        await _conditionalWrites.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using FileStream folderLock = await LockFolderAsync(cancellationToken).ConfigureAwait(false);
            ObjectHead? current = Head(key);
            bool holds = condition.IfMatch is null ? current is null : current?.ETag == condition.IfMatch;
            if (!holds)
            {
                throw new PreconditionFailedException(key, condition);
            }

            return Write(key, data.Span);
        }
        finally
        {
            _conditionalWrites.Release();
        }
    }

    private ObjectHead? Head(string key)
    {
        string path = ResolveKey(key);
        var info = new FileInfo(path);
        return info.Exists ? new ObjectHead(FormatETag(info.LastWriteTimeUtc, info.Length), s_noMetadata) : null;
    }

    private async Task<FileStream> LockFolderAsync(CancellationToken cancellationToken)
    {
        string path = Path.Join(RootPath, WriteLockName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Held by another process's conditional write: a few milliseconds at most.
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static readonly Dictionary<string, string> s_noMetadata = [];
}
