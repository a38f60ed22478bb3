using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Vault;

/// <summary>A vault key pair (ECDH P-256): the private half opens restore records, the public half (<see cref="PublicKey"/>) seals them.</summary>
/// <remarks>
/// Kept in its own file (<c>poscuda-vault-key/1</c>, mode 0600), apart from the protection keyring: workers that only
/// protect never need it, and a job carries only <see cref="PublicKey"/>. The private key never appears in a message.
/// </remarks>
public sealed class VaultKey : IDisposable
{
    /// <summary>The value of the file's <c>format</c> field.</summary>
    public const string Format = "poscuda-vault-key/1";

    private const string Curve = "P-256";
    private readonly ECDiffieHellman? _private;

    private VaultKey(VaultPublicKey publicKey, ECDiffieHellman? privateKey, DateTimeOffset created)
    {
        PublicKey = publicKey;
        _private = privateKey;
        Created = created;
    }

    /// <summary>The public half.</summary>
    public VaultPublicKey PublicKey { get; }

    /// <summary>The key's id (of its public half).</summary>
    public string KeyId => PublicKey.KeyId;

    /// <summary>When the key was made.</summary>
    public DateTimeOffset Created { get; }

    /// <summary>Whether this holds the private half (a public-only file does not).</summary>
    public bool HasPrivateKey => _private is not null;

    /// <summary>Makes a new key pair from the system CSPRNG.</summary>
    public static VaultKey Create(TimeProvider? time = null)
    {
        ECDiffieHellman key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return new VaultKey(new VaultPublicKey(key.ExportSubjectPublicKeyInfo()), key, (time ?? TimeProvider.System).GetUtcNow());
    }

    /// <summary>Loads a vault key file (private or public-only), refusing one open to group or others.</summary>
    /// <exception cref="KeyringException">The file cannot be read, is open to group or others, or is malformed.</exception>
    public static VaultKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] content = KeyringFile.ReadPrivateFile(path);
        try
        {
            VaultKeyDocument document;
            try
            {
                document = JsonSerializer.Deserialize(content, VaultJsonContext.Default.VaultKeyDocument)
                    ?? throw new KeyringException(path, "is malformed: not a JSON object");
            }
            catch (JsonException)
            {
                // The serializer's message may quote the input (a private key): never passed on.
                throw new KeyringException(path, $"is malformed: not a {Format} file");
            }

            if (document.Format != Format || document.Curve != Curve)
            {
                throw new KeyringException(path, $"is not a {Format} file with a {Curve} key");
            }

            VaultPublicKey publicKey;
            try
            {
                publicKey = VaultPublicKey.Parse(document.PublicKey);
            }
            catch (ArgumentException)
            {
                throw new KeyringException(path, "is malformed: its public key is not a P-256 key");
            }

            if (publicKey.KeyId != document.KeyId)
            {
                throw new KeyringException(path, $"is inconsistent: keyId {document.KeyId} is not the id of its public key ({publicKey.KeyId})");
            }

            ECDiffieHellman? privateKey = null;
            if (document.PrivateKey is not null)
            {
                byte[] pkcs8 = [];
                try
                {
                    pkcs8 = Convert.FromBase64String(document.PrivateKey);
                    privateKey = ECDiffieHellman.Create();
                    privateKey.ImportPkcs8PrivateKey(pkcs8, out _);
                    if (!privateKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(publicKey.SubjectPublicKeyInfo))
                    {
                        throw new KeyringException(path, "is inconsistent: its private key does not belong to its public key");
                    }
                }
                catch (Exception e) when (e is FormatException or CryptographicException)
                {
                    privateKey?.Dispose();
                    throw new KeyringException(path, "is malformed: its private key cannot be read");
                }
                catch
                {
                    privateKey?.Dispose();
                    throw;
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(pkcs8);
                }
            }

            DateTimeOffset created = DateTimeOffset.TryParse(document.Created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset c)
                ? c : DateTimeOffset.UnixEpoch;
            return new VaultKey(publicKey, privateKey, created);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>Writes the key (with its private half unless <paramref name="publicOnly"/>) to a new file of mode 0600.</summary>
    /// <exception cref="IOException">The file exists already.</exception>
    public void Save(string path, bool publicOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!publicOnly && _private is null)
        {
            throw new InvalidOperationException($"{PublicKey} has no private half to save.");
        }

        byte[] pkcs8 = publicOnly ? [] : _private!.ExportPkcs8PrivateKey();
        var document = new VaultKeyDocument
        {
            Format = Format,
            KeyId = KeyId,
            Curve = Curve,
            PublicKey = PublicKey.ToText(),
            PrivateKey = publicOnly ? null : Convert.ToBase64String(pkcs8),
            Created = Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(document, VaultJsonContext.Default.VaultKeyDocument);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
            stream.Write(json);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            CryptographicOperations.ZeroMemory(json);
        }
    }

    /// <summary>The raw ECDH agreement with <paramref name="ephemeral"/> (a record's sender key).</summary>
    /// <exception cref="InvalidOperationException">This is a public-only key.</exception>
    internal byte[] Agree(ECDiffieHellmanPublicKey ephemeral)
    {
        if (_private is null)
        {
            throw new InvalidOperationException($"{PublicKey} is public only: restore records cannot be opened with it (load the vault key file that holds the private key).");
        }

        return _private.DeriveRawSecretAgreement(ephemeral);
    }

    /// <inheritdoc/>
    public void Dispose() => _private?.Dispose();

    /// <inheritdoc/>
    public override string ToString() => PublicKey.ToString();
}
