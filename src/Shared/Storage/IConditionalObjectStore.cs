namespace PosCuda.Shared.Storage;

/// <summary>A store that can write an object only if it is still what was read (a fenced write), and read an object's tag and metadata alone.</summary>
/// <remarks>
/// S3: conditional PUT (<c>If-Match</c> on the ETag, <c>If-None-Match: *</c>), answered 412 by the server. Folder: the
/// current file's tag compared under an exclusive lock on the destination, then the usual write-and-rename.
/// </remarks>
public interface IConditionalObjectStore : IObjectStore
{
    /// <summary>The object's entity tag and user metadata, or null when there is no such object.</summary>
    Task<ObjectHead?> HeadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Writes a whole object atomically if <paramref name="condition"/> holds when the write lands.</summary>
    /// <returns>The entity tag of what was written.</returns>
    /// <exception cref="PreconditionFailedException">The object is no longer what the condition names; nothing was written.</exception>
    Task<string?> PutAsync(string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, WriteCondition condition, CancellationToken cancellationToken);
}
