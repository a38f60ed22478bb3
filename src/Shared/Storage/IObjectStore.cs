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
}
