namespace PosCuda.Shared.Vault;

/// <summary>The JSON form of one batch's restore record object, <c>poscuda-restore-record/1</c>.</summary>
internal sealed class RestoreRecordDocument
{
    public required string Format { get; init; }

    /// <summary>The vault key the record is sealed to.</summary>
    public required string VaultKeyId { get; init; }

    public required string Job { get; init; }

    public required long Batch { get; init; }

    /// <summary>The sender's ephemeral ECDH P-256 public key (SubjectPublicKeyInfo, base64); its private half was discarded.</summary>
    public required string EphemeralPublicKey { get; init; }

    /// <summary>HKDF salt, base64.</summary>
    public required string Salt { get; init; }

    public required List<EntryDocument> Entries { get; init; }

    internal sealed class EntryDocument
    {
        public required string Key { get; init; }

        public required string KeyId { get; init; }

        public required int KeyVersion { get; init; }

        public required string Spec { get; init; }

        public string? SourceETag { get; init; }

        /// <summary>AES-GCM nonce, base64 (12 bytes).</summary>
        public required string Nonce { get; init; }

        /// <summary>AES-GCM ciphertext followed by its 16-byte tag, base64.</summary>
        public required string Sealed { get; init; }
    }
}
