namespace PosCuda.Shared.Vault;

/// <summary>The JSON form of a vault key file, <c>poscuda-vault-key/1</c>.</summary>
internal sealed class VaultKeyDocument
{
    public required string Format { get; init; }

    public required string KeyId { get; init; }

    public required string Curve { get; init; }

    public required string PublicKey { get; init; }

    /// <summary>PKCS#8, base64; absent in a public-only file (<c>poscuda vault export-public</c>).</summary>
    public string? PrivateKey { get; init; }

    public required string Created { get; init; }
}
