namespace PosCuda.Shared.Storage;

/// <summary>A prefix in an object store (<c>file://</c> folder or <c>s3://bucket/prefix</c>), addressed by relative keys.</summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>The location this store was opened at, without credentials.</summary>
    string Location { get; }

    /// <summary>Lists every object under the prefix, recursively.</summary>
    IAsyncEnumerable<StoredObject> ListAsync(CancellationToken cancellationToken);

    /// <summary>Reads a whole object.</summary>
    /// <exception cref="InvalidObjectException">The object does not exist or its key is not allowed.</exception>
    Task<ObjectContent> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Writes a whole object atomically (a reader sees the old object, or the new one complete).</summary>
    /// <returns>The entity tag of what was written, if the store has one.</returns>
    Task<string?> PutAsync(string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken);

    /// <summary>Opens an object for ranged reads at its current version, reading its first <paramref name="prefixLength"/> bytes.</summary>
    /// <exception cref="InvalidObjectException">The object does not exist or its key is not allowed.</exception>
    Task<ObjectReader> OpenReadAsync(string key, int prefixLength, CancellationToken cancellationToken);

    /// <summary>
    /// Writes atomically, under <paramref name="key"/>, a copy of <paramref name="source"/> with <paramref name="patches"/>
    /// replacing its bytes; the copy is of the version the reader was opened at, or the write fails.
    /// </summary>
    /// <remarks>
    /// Unchanged bytes are copied by the store where it can (a kernel copy or reflink for folders, part copies on S3),
    /// without passing through this process. Patches lie inside the source and do not overlap.
    /// </remarks>
    /// <exception cref="SourceChangedException">The source changed since the reader was opened; nothing was written.</exception>
    Task<PatchedWrite> PutPatchedAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken);

    /// <summary>
    /// Writes atomically, under <paramref name="key"/>, a copy of <paramref name="source"/> with <paramref name="patches"/>
    /// replacing its bytes, the patches taken one at a time; the copy is of the version the reader was opened at, or the write fails.
    /// </summary>
    /// <remarks>
    /// For a change that spans the whole object (a spec that changes every sample of a long recording): the patches come
    /// in ascending order without overlapping, and each one's bytes need stay valid only until the next is asked for, so
    /// the caller holds one window at a time. Bytes between and after the patches are copied from the source.
    /// </remarks>
    /// <exception cref="SourceChangedException">The source changed since the reader was opened; nothing was written.</exception>
    Task<PatchedWrite> PutStreamedAsync(
        string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken);
}
