using System.Buffers;
using Amazon.S3.Model;

namespace PosCuda.Shared.Storage;

// Streamed rewrites (issue 13): a long recording whose every sample changes, uploaded part by part as it is made.
public sealed partial class S3ObjectStore
{
    /// <inheritdoc />
    /// <remarks>
    /// Below <see cref="MultipartThreshold"/>, one PUT. Above it, a multipart upload of 8 MiB parts filled in order from
    /// the patches and, between them, the source's bytes (ranged GETs at the version read); only one part is held at a
    /// time. Every part changes, so none is copied by S3.
    /// </remarks>
    public Task<PatchedWrite> PutStreamedAsync(
        string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
        => PutStreamedCoreAsync(key, source, patches, metadata, condition: null, cancellationToken);

    /// <summary>
    /// Writes a streamed copy of <paramref name="source"/> (as <see cref="PutStreamedAsync(string, ObjectReader, IAsyncEnumerable{ObjectPatch}, IReadOnlyDictionary{string, string}, CancellationToken)"/>)
    /// only if <paramref name="condition"/> holds when the write lands: on the PUT of a short object, on the completion of a multipart upload.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The destination is no longer what the condition names; nothing was written.</exception>
    /// <exception cref="SourceChangedException">The source changed since the reader was opened; nothing was written.</exception>
    public Task<PatchedWrite> PutStreamedAsync(
        string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        WriteCondition condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return PutStreamedCoreAsync(key, source, patches, metadata, condition, cancellationToken);
    }

    private async Task<PatchedWrite> PutStreamedCoreAsync(
        string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        WriteCondition? condition, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(patches);
        ArgumentNullException.ThrowIfNull(metadata);
        if (source.Length < MultipartThreshold)
        {
            byte[] data = new byte[source.Length];
            var whole = new PartAssembler(source, data, flush: null);
            await whole.FillAsync(patches, cancellationToken).ConfigureAwait(false);
            string? etag = condition is null
                ? await PutAsync(key, data, metadata, cancellationToken).ConfigureAwait(false)
                : await PutAsync(key, data, metadata, condition, cancellationToken).ConfigureAwait(false);
            return new PatchedWrite(etag, data.Length, 0);
        }

        string fullKey = _location.Prefix + key;
        string uploadId = await InitiateUploadAsync(key, fullKey, metadata, cancellationToken).ConfigureAwait(false);
        bool completed = false;
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)UploadPartSize);
        try
        {
            var etags = new List<PartETag>();
            long written = 0;
            var parts = new PartAssembler(source, buffer.AsMemory(0, (int)UploadPartSize), async (bytes, token) =>
            {
                etags.Add(await UploadPartAsync(key, fullKey, uploadId, etags.Count + 1, bytes, token).ConfigureAwait(false));
                written += bytes.Length;
            });
            await parts.FillAsync(patches, cancellationToken).ConfigureAwait(false);
            string? done = await CompleteUploadAsync(key, uploadId, etags, condition, cancellationToken).ConfigureAwait(false);
            completed = true;
            return new PatchedWrite(done, written, 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!completed)
            {
                await AbortUploadAsync(fullKey, uploadId).ConfigureAwait(false);
            }
        }
    }

    // Fills a buffer front to back with the source's bytes and the patches over them, handing each full buffer (and
    // the last, partial one) to flush; with no flush the buffer must hold the whole object.
    private sealed class PartAssembler(ObjectReader source, Memory<byte> buffer, Func<ReadOnlyMemory<byte>, CancellationToken, Task>? flush)
    {
        private long _at;
        private int _filled;

        public async Task FillAsync(IAsyncEnumerable<ObjectPatch> patches, CancellationToken cancellationToken)
        {
            await foreach (ObjectPatch patch in patches.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (patch.Offset < _at || patch.End > source.Length)
                {
                    throw new ArgumentException($"Patches must come in ascending order inside the source; {patch.Offset} follows {_at}.", nameof(patches));
                }

                await FromSourceAsync(patch.Offset, cancellationToken).ConfigureAwait(false);
                ReadOnlyMemory<byte> bytes = patch.Bytes;
                while (!bytes.IsEmpty)
                {
                    int count = Math.Min(buffer.Length - _filled, bytes.Length);
                    bytes[..count].CopyTo(buffer[_filled..]);
                    bytes = bytes[count..];
                    await AdvanceAsync(count, cancellationToken).ConfigureAwait(false);
                }
            }

            await FromSourceAsync(source.Length, cancellationToken).ConfigureAwait(false);
            if (_filled > 0 && flush is not null)
            {
                await flush(buffer[.._filled], cancellationToken).ConfigureAwait(false);
                _filled = 0;
            }
        }

        private async Task FromSourceAsync(long end, CancellationToken cancellationToken)
        {
            while (_at < end)
            {
                int count = (int)Math.Min(buffer.Length - _filled, end - _at);
                await source.ReadAsync(_at, buffer.Slice(_filled, count), cancellationToken).ConfigureAwait(false);
                await AdvanceAsync(count, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task AdvanceAsync(int count, CancellationToken cancellationToken)
        {
            _filled += count;
            _at += count;
            if (_filled == buffer.Length && flush is not null)
            {
                await flush(buffer, cancellationToken).ConfigureAwait(false);
                _filled = 0;
            }
        }
    }
}
