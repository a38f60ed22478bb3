namespace PosCuda.Shared.Storage;

/// <summary>Ranged reads of one object, all at the version (entity tag) it had when opened.</summary>
/// <remarks>
/// A reader never mixes two versions of an object: a read that would see other bytes than those the reader was
/// opened at throws <see cref="SourceChangedException"/>. The first bytes of the object (the prefix asked for when
/// opening, which holds a WAV file's header) are held in memory, so reads inside them cost nothing.
/// </remarks>
public abstract class ObjectReader : IAsyncDisposable
{
    private readonly ReadOnlyMemory<byte> _prefix;
    private long _bytesRead;

    /// <summary>A reader of <paramref name="length"/> bytes whose first <paramref name="prefix"/> bytes are already read.</summary>
    protected ObjectReader(string key, long length, string? etag, ReadOnlyMemory<byte> prefix)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Key = key;
        Length = length;
        ETag = etag;
        _prefix = prefix;
        _bytesRead = prefix.Length;
    }

    /// <summary>The object's key, relative to its store's prefix.</summary>
    public string Key { get; }

    /// <summary>The object's length in bytes.</summary>
    public long Length { get; }

    /// <summary>The entity tag of the version being read, if the store has one.</summary>
    public string? ETag { get; }

    /// <summary>The bytes read from the store so far (the prefix included).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>The first bytes of the object, read when it was opened (the whole object when it is short).</summary>
    public ReadOnlyMemory<byte> Prefix => _prefix;

    /// <summary>Whether <see cref="Prefix"/> holds the whole object.</summary>
    public bool HoldsWholeObject => _prefix.Length == Length;

    /// <summary>Reads <c>destination.Length</c> bytes at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the object.</exception>
    /// <exception cref="SourceChangedException">The object changed since it was opened.</exception>
    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + destination.Length, Length, nameof(destination));
        if (offset < _prefix.Length)
        {
            int cached = (int)Math.Min(destination.Length, _prefix.Length - offset);
            _prefix.Span.Slice((int)offset, cached).CopyTo(destination.Span);
            destination = destination[cached..];
            offset += cached;
        }

        if (destination.IsEmpty)
        {
            return;
        }

        await ReadCoreAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesRead, destination.Length);
    }

    /// <summary>Reads exactly <c>destination.Length</c> bytes at <paramref name="offset"/> from the store.</summary>
    protected abstract ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
