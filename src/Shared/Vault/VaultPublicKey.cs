using System.Security.Cryptography;

namespace PosCuda.Shared.Vault;

/// <summary>The public half of a vault key: what a protect job carries so its workers can seal restore records that only the vault's holder can open.</summary>
/// <remarks>
/// An ECDH P-256 public key (SubjectPublicKeyInfo, DER). Its <see cref="KeyId"/> is the first 8 bytes of the SHA-256 of
/// that encoding, in lower-case hex: anyone can recompute it, so a job cannot name one key and carry another.
/// </remarks>
public sealed record VaultPublicKey
{
    /// <summary>A public key from its SubjectPublicKeyInfo encoding, checked to be a P-256 point.</summary>
    /// <exception cref="ArgumentException">The bytes are not a P-256 public key.</exception>
    public VaultPublicKey(byte[] subjectPublicKeyInfo)
    {
        ArgumentNullException.ThrowIfNull(subjectPublicKeyInfo);
        try
        {
            using ECDiffieHellman key = ECDiffieHellman.Create();
            key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out int read);
            if (read != subjectPublicKeyInfo.Length || key.KeySize != 256)
            {
                throw new ArgumentException("The vault public key is not a P-256 key.", nameof(subjectPublicKeyInfo));
            }
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException("The vault public key is not a valid P-256 public key.", nameof(subjectPublicKeyInfo), e);
        }

        SubjectPublicKeyInfo = subjectPublicKeyInfo;
        KeyId = IdOf(subjectPublicKeyInfo);
    }

    /// <summary>The key's id: 16 lower-case hex digits.</summary>
    public string KeyId { get; }

    /// <summary>The DER SubjectPublicKeyInfo.</summary>
    public byte[] SubjectPublicKeyInfo { get; }

    /// <summary>The key as base64 text (how jobs record it).</summary>
    public string ToText() => Convert.ToBase64String(SubjectPublicKeyInfo);

    /// <summary>Parses <see cref="ToText"/>'s form.</summary>
    /// <exception cref="ArgumentException">The text is not a P-256 public key.</exception>
    public static VaultPublicKey Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return new VaultPublicKey(Convert.FromBase64String(text));
        }
        catch (FormatException e)
        {
            throw new ArgumentException("The vault public key is not base64.", nameof(text), e);
        }
    }

    /// <summary>A new ECDH object holding this public key.</summary>
    internal ECDiffieHellman Open()
    {
        ECDiffieHellman key = ECDiffieHellman.Create();
        key.ImportSubjectPublicKeyInfo(SubjectPublicKeyInfo, out _);
        return key;
    }

    /// <summary>The id of a SubjectPublicKeyInfo encoding.</summary>
    internal static string IdOf(ReadOnlySpan<byte> subjectPublicKeyInfo)
        => Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo)[..8]);

    /// <inheritdoc/>
    public bool Equals(VaultPublicKey? other) => other is not null && SubjectPublicKeyInfo.AsSpan().SequenceEqual(other.SubjectPublicKeyInfo);

    /// <inheritdoc/>
    public override int GetHashCode() => KeyId.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => $"vault key {KeyId}";
}
