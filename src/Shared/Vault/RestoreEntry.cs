using System.Security.Cryptography;

namespace PosCuda.Shared.Vault;

/// <summary>One object's restore record, opened: the original bytes of the region protection changed, and what they belong to.</summary>
/// <param name="ObjectKey">The object's key relative to the destination.</param>
/// <param name="Job">The job that published it.</param>
/// <param name="KeyId">The protection keyring's key id.</param>
/// <param name="KeyVersion">The key version it was protected under.</param>
/// <param name="Spec">The spec that protected it.</param>
/// <param name="SourceETag">The ETag of the original it was protected from, if the store had one.</param>
/// <param name="Offset">Where the changed region starts in the file.</param>
/// <param name="Original">The original bytes of the changed region.</param>
/// <param name="Length">The file's length (protection never changes it).</param>
/// <param name="OriginalSha256">The SHA-256 of the whole original file.</param>
/// <param name="ProtectedSha256">The SHA-256 of the whole published file.</param>
public sealed record RestoreEntry(
    string ObjectKey,
    Guid Job,
    string KeyId,
    int KeyVersion,
    string Spec,
    string? SourceETag,
    long Offset,
    byte[] Original,
    long Length,
    byte[] OriginalSha256,
    byte[] ProtectedSha256)
{
    /// <summary>The entry for an object whose original was <paramref name="original"/> and is published as <paramref name="protectedFile"/>.</summary>
    /// <remarks>The region kept is the smallest that covers every changed byte: for <c>poscuda-v1</c> at most the patch, for <c>poscuda-v2</c> about the whole data chunk.</remarks>
    public static RestoreEntry Create(
        string objectKey, Guid job, string keyId, int keyVersion, string spec, string? sourceETag,
        ReadOnlySpan<byte> original, ReadOnlySpan<byte> protectedFile)
    {
        ArgumentNullException.ThrowIfNull(objectKey);
        if (original.Length != protectedFile.Length)
        {
            throw new ArgumentException("Protection changed the file's length.", nameof(protectedFile));
        }

        int first = original.CommonPrefixLength(protectedFile);
        int end = original.Length;
        if (first == original.Length)
        {
            end = first; // Nothing changed (an empty patch).
        }
        else
        {
            while (end > first && original[end - 1] == protectedFile[end - 1])
            {
                end--;
            }
        }

        return new RestoreEntry(
            objectKey, job, keyId, keyVersion, spec, sourceETag, first, original[first..end].ToArray(), original.Length,
            SHA256.HashData(original), SHA256.HashData(protectedFile));
    }

    /// <summary>Whether <paramref name="published"/> is the file this entry was made for (same SHA-256).</summary>
    public bool Matches(ReadOnlySpan<byte> published)
        => published.Length == Length && SHA256.HashData(published).AsSpan().SequenceEqual(ProtectedSha256);

    /// <summary>Puts the original bytes back into <paramref name="published"/>, in place, and checks the whole file's SHA-256.</summary>
    /// <returns>False (and the bytes untouched) when <paramref name="published"/> is not the file this entry was made for.</returns>
    public bool TryRestore(Span<byte> published)
    {
        if (!Matches(published))
        {
            return false;
        }

        Original.CopyTo(published[(int)Offset..]);
        if (!SHA256.HashData(published).AsSpan().SequenceEqual(OriginalSha256))
        {
            throw new CryptographicException($"The restore record of {ObjectKey} does not rebuild the original it describes.");
        }

        return true;
    }
}
