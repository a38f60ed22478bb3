using System.Globalization;
using PosCuda.Shared.Storage;

namespace PosCuda.Engine.Processing;

/// <summary>Writes protected objects so that an older key version never replaces a newer one (the late writer of an old job after a rekey).</summary>
/// <remarks>
/// Where the store keeps metadata and writes conditionally (S3): the write lands only where no object exists
/// (<c>If-None-Match: *</c>); where one does, its <c>poscuda-key-version</c> is read and the write lands only if that
/// version is not newer than ours, and only over the very object read (<c>If-Match</c> on its ETag). A folder keeps no
/// metadata: there the single-machine tool's state-folder lock keeps a protect run and a rekey of one destination apart.
/// </remarks>
public static class PublishFence
{
    private const int Tries = 4;

    /// <summary>Writes a protected object under key version <paramref name="keyVersion"/> of <paramref name="keyId"/>.</summary>
    /// <returns>The written object's ETag, or the reason it was not written (a newer version is published there).</returns>
    public static async Task<(string? ETag, string? Refused)> PutProtectedAsync(
        IObjectStore store, string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata,
        string keyId, int keyVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        (string? etag, string? refused) = await WriteAsync<string?>(
            store, key, keyId, keyVersion,
            (condition, token) => condition is null
                ? store.PutAsync(key, data, metadata, token)
                : ((S3ObjectStore)store).PutAsync(key, data, metadata, condition, token),
            cancellationToken).ConfigureAwait(false);
        return (etag, refused);
    }

    /// <summary>Writes a patched copy of <paramref name="source"/> (<see cref="IObjectStore.PutPatchedAsync"/>) under key
    /// version <paramref name="keyVersion"/> of <paramref name="keyId"/>; on S3 the condition rides on the PUT or on the
    /// multipart upload's completion.</summary>
    /// <returns>What was written, or the reason it was not written (a newer version is published there).</returns>
    public static async Task<(PatchedWrite? Write, string? Refused)> PutPatchedAsync(
        IObjectStore store, string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        string keyId, int keyVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        return await WriteAsync<PatchedWrite?>(
            store, key, keyId, keyVersion,
            async (condition, token) => condition is null
                ? await store.PutPatchedAsync(key, source, patches, metadata, token).ConfigureAwait(false)
                : await ((S3ObjectStore)store).PutPatchedAsync(key, source, patches, metadata, condition, token).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a streamed copy of <paramref name="source"/> (<see cref="IObjectStore.PutStreamedAsync"/>) under key
    /// version <paramref name="keyVersion"/> of <paramref name="keyId"/>; <paramref name="patches"/> makes the patches afresh
    /// for each try.</summary>
    /// <remarks>A refused condition costs a whole pass over the object here, so the destination is looked at (HEAD)
    /// before the first try and the write starts with the condition that object calls for.</remarks>
    /// <returns>What was written, or the reason it was not written (a newer version is published there).</returns>
    public static async Task<(PatchedWrite? Write, string? Refused)> PutStreamedAsync(
        IObjectStore store, string key, ObjectReader source, Func<IAsyncEnumerable<ObjectPatch>> patches,
        IReadOnlyDictionary<string, string> metadata, string keyId, int keyVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(patches);
        return await WriteCoreAsync<PatchedWrite?>(
            store, key, keyId, keyVersion,
            async (condition, token) => condition is null
                ? await store.PutStreamedAsync(key, source, patches(), metadata, token).ConfigureAwait(false)
                : await ((S3ObjectStore)store).PutStreamedAsync(key, source, patches(), metadata, condition, token).ConfigureAwait(false),
            probeFirst: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The fence itself: runs <paramref name="write"/> with the condition it must carry (null where the store
    /// writes unconditionally), and on <see cref="PreconditionFailedException"/> decides from the object now there
    /// whether to write again (over that very object) or to give up because a newer key version is published.</summary>
    /// <param name="write">Writes the object atomically, landing only where the condition holds (else throws
    /// <see cref="PreconditionFailedException"/> having written nothing).</param>
    public static Task<(T? Result, string? Refused)> WriteAsync<T>(
        IObjectStore store, string key, string keyId, int keyVersion,
        Func<WriteCondition?, CancellationToken, Task<T>> write, CancellationToken cancellationToken)
        => WriteCoreAsync(store, key, keyId, keyVersion, write, probeFirst: false, cancellationToken);

    // probeFirst: decide the first condition from the object there now (HEAD) rather than trying "absent" first.
    private static async Task<(T? Result, string? Refused)> WriteCoreAsync<T>(
        IObjectStore store, string key, string keyId, int keyVersion,
        Func<WriteCondition?, CancellationToken, Task<T>> write, bool probeFirst, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(write);
        if (store is not S3ObjectStore conditional)
        {
            return (await write(null, cancellationToken).ConfigureAwait(false), null);
        }

        WriteCondition condition = WriteCondition.Absent;
        if (probeFirst)
        {
            (WriteCondition? first, string? refused) = await DecideAsync(conditional, key, keyId, keyVersion, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                return (default, refused);
            }

            condition = first!;
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return (await write(condition, cancellationToken).ConfigureAwait(false), null);
            }
            catch (PreconditionFailedException) when (attempt < Tries)
            {
                (WriteCondition? next, string? refused) = await DecideAsync(conditional, key, keyId, keyVersion, cancellationToken).ConfigureAwait(false);
                if (refused is not null)
                {
                    return (default, refused);
                }

                condition = next!;
            }
        }
    }

    // The condition a write over the object now at key must carry, or why it must not be written.
    private static async Task<(WriteCondition? Condition, string? Refused)> DecideAsync(
        S3ObjectStore store, string key, string keyId, int keyVersion, CancellationToken cancellationToken)
    {
        ObjectHead? head = await store.HeadAsync(key, cancellationToken).ConfigureAwait(false);
        if (head?.ETag is null)
        {
            return (WriteCondition.Absent, null);
        }

        if (PublishedVersion(head.Metadata, keyId) is int published && published > keyVersion)
        {
            return (null, string.Create(
                CultureInfo.InvariantCulture,
                $"not written: key version {published} is published there, newer than this job's version {keyVersion} (re-keyed after this job)"));
        }

        return (WriteCondition.Matching(head.ETag), null);
    }

    /// <summary>The key version an object's metadata declares for <paramref name="keyId"/>, or null when it declares none (or another key).</summary>
    public static int? PublishedVersion(IReadOnlyDictionary<string, string> metadata, string keyId)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.TryGetValue(OutputMetadata.KeyId, out string? id) && !string.Equals(id, keyId, StringComparison.Ordinal))
        {
            return null;
        }

        return metadata.TryGetValue(OutputMetadata.KeyVersion, out string? text)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int version) ? version : null;
    }

    /// <summary>The job an object's metadata says published it, if any.</summary>
    public static Guid? PublishedJob(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.TryGetValue(OutputMetadata.Job, out string? text) && Guid.TryParse(text, out Guid job) ? job : null;
    }
}
