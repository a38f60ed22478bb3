using Microsoft.Win32.SafeHandles;

namespace PosCuda.Shared.Storage;

// Streamed rewrites (issue 13): a long recording whose every sample changes is written once, front to back.
public sealed partial class FileObjectStore
{
    /// <inheritdoc />
    /// <remarks>
    /// A temporary file is written front to back: the bytes between patches copied from the source (in the kernel when
    /// the source is a file too), each patch written as it comes; then the source is checked unchanged and the temporary
    /// file renamed over the target. Each byte is written once (no copy of the whole source first, which every patch
    /// would then overwrite). Metadata is ignored.
    /// </remarks>
    public async Task<PatchedWrite> PutStreamedAsync(
        string key, ObjectReader source, IAsyncEnumerable<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(patches);
        return await WriteCopyAsync(key, source, async handle =>
        {
            long written = 0;
            long copiedByStore = 0;
            long at = 0;
            await foreach (ObjectPatch patch in patches.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (patch.Offset < at || patch.End > source.Length)
                {
                    throw new ArgumentException($"Patches must come in ascending order inside the source; {patch.Offset} follows {at}.", nameof(patches));
                }

                (long byStore, long byUs) = await CopyGapAsync(source, handle, at, patch.Offset - at, cancellationToken).ConfigureAwait(false);
                copiedByStore += byStore;
                written += byUs;
                await RandomAccess.WriteAsync(handle, patch.Bytes, patch.Offset, cancellationToken).ConfigureAwait(false);
                written += patch.Bytes.Length;
                at = patch.End;
            }

            (long tailByStore, long tailByUs) = await CopyGapAsync(source, handle, at, source.Length - at, cancellationToken).ConfigureAwait(false);
            return (written + tailByUs, copiedByStore + tailByStore);
        }).ConfigureAwait(false);
    }

    // Copies the source's bytes [offset, offset + length) to the same place: in the kernel where it can, else through a
    // bounded buffer. Returns the bytes the kernel copied and those that passed through this process.
    private static async Task<(long ByStore, long ByUs)> CopyGapAsync(
        ObjectReader source, SafeFileHandle destination, long offset, long length, CancellationToken cancellationToken)
    {
        if (length <= 0)
        {
            return (0, 0);
        }

        long copied = 0;
        if (source is FileObjectReader file && LinuxFiles.IsSupported)
        {
            int errno = LinuxFiles.CopyRangeAt(file.Handle, destination, offset, length, out copied);
            if (errno is not (0 or LinuxFiles.EXDEV or LinuxFiles.EINVAL or LinuxFiles.ENOSYS or LinuxFiles.EOPNOTSUPP))
            {
                throw new PosCudaException($"Writing {source.Key} failed: {LinuxFiles.Describe(errno)}", isTransient: true);
            }
        }

        const int BufferSize = 1 << 20;
        long through = 0;
        if (copied < length)
        {
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferSize, length - copied));
            try
            {
                for (long at = offset + copied; at < offset + length;)
                {
                    int count = (int)Math.Min(buffer.Length, offset + length - at);
                    await source.ReadAsync(at, buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                    await RandomAccess.WriteAsync(destination, buffer.AsMemory(0, count), at, cancellationToken).ConfigureAwait(false);
                    at += count;
                    through += count;
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return (copied, through);
    }
}
