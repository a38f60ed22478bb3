using System.Buffers;

namespace PosCuda.Shared.Storage;

/// <summary>The bytes of one object and the entity tag they were read at.</summary>
/// <remarks>
/// A store may read into a buffer borrowed from <see cref="ArrayPool{T}.Shared"/> (the folder store does: a job reads
/// every clip once, and fresh arrays for 100,000s of clips keep the garbage collector busy). Dispose the content once
/// done with <see cref="Data"/>; the buffer then goes back to the pool and <see cref="Data"/> must not be used again.
/// </remarks>
public sealed class ObjectContent : IDisposable
{
    private const int MaxPooledLength = 1 << 20;
    private static readonly Dictionary<string, string> s_noMetadata = [];
    private byte[] _buffer;
    private bool _pooled;

    /// <summary>Content that owns <paramref name="data"/> (nothing is pooled).</summary>
    public ObjectContent(byte[] data, string? etag)
    {
        ArgumentNullException.ThrowIfNull(data);
        _buffer = data;
        Length = data.Length;
        ETag = etag;
    }

    private ObjectContent(byte[] pooled, int length)
    {
        _buffer = pooled;
        _pooled = true;
        Length = length;
    }

    /// <summary>The object's bytes (writable: protection patches them in place).</summary>
    public Memory<byte> Data => _buffer.AsMemory(0, Length);

    /// <summary>The object's length in bytes.</summary>
    public int Length { get; private set; }

    /// <summary>The entity tag the bytes were read at, if the store has one.</summary>
    public string? ETag { get; private set; }

    /// <summary>The object's user metadata, if the store keeps any (S3 does, a folder does not).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; set; } = s_noMetadata;

    /// <summary>Content of <paramref name="length"/> bytes to be filled through <see cref="Data"/>: in a pooled buffer
    /// up to 1 MiB (pooled buffers come in powers of two, which would waste up to half of a long recording's memory).</summary>
    public static ObjectContent Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > MaxPooledLength)
        {
            return new ObjectContent(GC.AllocateUninitializedArray<byte>(length), etag: null);
        }

        return new ObjectContent(length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length), length);
    }

    /// <summary>Settles what was read: fewer bytes than rented (the object shrank meanwhile), and the tag they were read at.</summary>
    public void Complete(int length, string? etag)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
        ETag = etag;
    }

    /// <summary>Returns a pooled buffer; <see cref="Data"/> is empty afterwards.</summary>
    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        Length = 0;
        if (_pooled && buffer.Length > 0)
        {
            _pooled = false;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
