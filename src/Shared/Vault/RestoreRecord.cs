using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PosCuda.Shared.Vault;

/// <summary>One batch's restore records, sealed to a vault public key (docs/vault.md): written by protecting workers, opened only with the vault's private key.</summary>
/// <remarks>
/// <para>Sealing: a fresh ephemeral ECDH P-256 key pair per record; the AES-256-GCM key is HKDF-SHA256 of the agreement
/// between the ephemeral private key and the vault public key (salt random, info naming both public keys). The ephemeral
/// private key is discarded once the key is derived, so the worker that wrote a record cannot read it back, nor any other.</para>
/// <para>Each object is sealed on its own (its own nonce) with associated data binding it to the vault key id, the job,
/// the object key, the protection key id and version, the spec and the source ETag: an entry moved to another object, job
/// or version, or altered in any byte, fails authentication and is never applied.</para>
/// </remarks>
public sealed class RestoreRecord
{
    /// <summary>The value of a record's <c>format</c> field.</summary>
    public const string Format = "poscuda-restore-record/1";

    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int HeaderBytes = 8 + 8 + 32 + 32;
    private static readonly byte[] s_info = "poscuda/vault/1/record"u8.ToArray();

    private readonly RestoreRecordDocument _document;
    private readonly byte[] _key;

    private RestoreRecord(RestoreRecordDocument document, byte[] key, string name)
    {
        _document = document;
        _key = key;
        Name = name;
        Job = Guid.Parse(document.Job);
        Keys = [.. document.Entries.Select(static e => e.Key)];
    }

    /// <summary>The record object's key, for messages.</summary>
    public string Name { get; }

    /// <summary>The job whose batch this record covers.</summary>
    public Guid Job { get; }

    /// <summary>The object key of each entry, in order.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Where a batch's record is kept in the vault store.</summary>
    public static string ObjectKeyFor(Guid job, long batch)
        => string.Create(CultureInfo.InvariantCulture, $"{JobPrefix(job)}{batch:D12}.json");

    /// <summary>The prefix under which a job's records are kept.</summary>
    public static string JobPrefix(Guid job) => $"records/{job:D}/";

    /// <summary>Seals <paramref name="entries"/> (one batch's) to <paramref name="vault"/> and returns the record object's bytes.</summary>
    public static byte[] Seal(VaultPublicKey vault, Guid job, long batch, IReadOnlyList<RestoreEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(entries);
        byte[] salt = RandomNumberGenerator.GetBytes(32);
        byte[] ephemeralPublic;
        byte[] key;
        using (ECDiffieHellman ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256))
        using (ECDiffieHellman recipient = vault.Open())
        {
            ephemeralPublic = ephemeral.ExportSubjectPublicKeyInfo();
            byte[] agreement = ephemeral.DeriveRawSecretAgreement(recipient.PublicKey);
            key = DeriveKey(agreement, salt, ephemeralPublic, vault.SubjectPublicKeyInfo);
        } // The ephemeral private key is gone here: nothing on this machine can open the record any more.

        try
        {
            var sealedEntries = new List<RestoreRecordDocument.EntryDocument>(entries.Count);
            using var aes = new AesGcm(key, TagBytes);
            foreach (RestoreEntry entry in entries)
            {
                if (entry.Job != job)
                {
                    throw new ArgumentException($"The entry of {entry.ObjectKey} belongs to job {entry.Job}, not {job}.", nameof(entries));
                }

                byte[] plain = new byte[HeaderBytes + entry.Original.Length];
                BinaryPrimitives.WriteInt64LittleEndian(plain, entry.Offset);
                BinaryPrimitives.WriteInt64LittleEndian(plain.AsSpan(8), entry.Length);
                entry.OriginalSha256.CopyTo(plain, 16);
                entry.ProtectedSha256.CopyTo(plain, 48);
                entry.Original.CopyTo(plain, HeaderBytes);
                byte[] nonce = RandomNumberGenerator.GetBytes(NonceBytes);
                byte[] output = new byte[plain.Length + TagBytes];
                aes.Encrypt(
                    nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length),
                    AssociatedData(vault.KeyId, job, entry.ObjectKey, entry.KeyId, entry.KeyVersion, entry.Spec, entry.SourceETag));
                CryptographicOperations.ZeroMemory(plain);
                sealedEntries.Add(new RestoreRecordDocument.EntryDocument
                {
                    Key = entry.ObjectKey,
                    KeyId = entry.KeyId,
                    KeyVersion = entry.KeyVersion,
                    Spec = entry.Spec,
                    SourceETag = entry.SourceETag,
                    Nonce = Convert.ToBase64String(nonce),
                    Sealed = Convert.ToBase64String(output),
                });
            }

            var document = new RestoreRecordDocument
            {
                Format = Format,
                VaultKeyId = vault.KeyId,
                Job = job.ToString("D"),
                Batch = batch,
                EphemeralPublicKey = Convert.ToBase64String(ephemeralPublic),
                Salt = Convert.ToBase64String(salt),
                Entries = sealedEntries,
            };
            return JsonSerializer.SerializeToUtf8Bytes(document, VaultJsonContext.Default.RestoreRecordDocument);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Reads a record object and derives its key with the vault's private key; entries are opened one by one with <see cref="Open(int)"/>.</summary>
    /// <exception cref="RestoreRecordException">The record is malformed or sealed to another vault key.</exception>
    public static RestoreRecord Read(ReadOnlySpan<byte> json, VaultKey vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        RestoreRecordDocument document;
        try
        {
            document = JsonSerializer.Deserialize(json, VaultJsonContext.Default.RestoreRecordDocument)
                ?? throw new RestoreRecordException($"restore record {name} is malformed: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new RestoreRecordException($"restore record {name} is malformed: {e.Message}", e);
        }

        if (document.Format != Format || !Guid.TryParse(document.Job, out _))
        {
            throw new RestoreRecordException($"restore record {name} is not a {Format} record");
        }

        if (document.VaultKeyId != vault.KeyId)
        {
            throw new RestoreRecordException($"restore record {name} is sealed to vault key {document.VaultKeyId}, not {vault.KeyId}");
        }

        try
        {
            byte[] ephemeralPublic = Convert.FromBase64String(document.EphemeralPublicKey);
            byte[] salt = Convert.FromBase64String(document.Salt);
            using ECDiffieHellman sender = ECDiffieHellman.Create();
            sender.ImportSubjectPublicKeyInfo(ephemeralPublic, out _);
            if (sender.KeySize != 256)
            {
                throw new RestoreRecordException($"restore record {name} has a sender key that is not P-256");
            }

            byte[] agreement = vault.Agree(sender.PublicKey);
            return new RestoreRecord(document, DeriveKey(agreement, salt, ephemeralPublic, vault.PublicKey.SubjectPublicKeyInfo), name);
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw new RestoreRecordException($"restore record {name} has an unreadable sender key", e);
        }
    }

    /// <summary>Opens entry <paramref name="index"/>, checking its authentication tag against its associated data.</summary>
    /// <exception cref="RestoreRecordException">The entry fails authentication: it was altered, or moved from another object, job or version.</exception>
    public RestoreEntry Open(int index)
    {
        RestoreRecordDocument.EntryDocument entry = _document.Entries[index];
        try
        {
            byte[] nonce = Convert.FromBase64String(entry.Nonce);
            byte[] input = Convert.FromBase64String(entry.Sealed);
            if (nonce.Length != NonceBytes || input.Length < HeaderBytes + TagBytes)
            {
                throw new RestoreRecordException($"the restore record of {entry.Key} in {Name} is malformed");
            }

            byte[] plain = new byte[input.Length - TagBytes];
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(
                nonce, input.AsSpan(0, plain.Length), input.AsSpan(plain.Length), plain,
                AssociatedData(_document.VaultKeyId, Job, entry.Key, entry.KeyId, entry.KeyVersion, entry.Spec, entry.SourceETag));
            long offset = BinaryPrimitives.ReadInt64LittleEndian(plain);
            long length = BinaryPrimitives.ReadInt64LittleEndian(plain.AsSpan(8));
            byte[] original = plain[HeaderBytes..];
            if (offset < 0 || length < 0 || offset + original.Length > length)
            {
                throw new RestoreRecordException($"the restore record of {entry.Key} in {Name} describes a region outside its file");
            }

            return new RestoreEntry(
                entry.Key, Job, entry.KeyId, entry.KeyVersion, entry.Spec, entry.SourceETag, offset, original, length,
                plain[16..48], plain[48..80]);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new RestoreRecordException(
                $"the restore record of {entry.Key} in {Name} fails authentication (tampered with, or moved from another object, job or key version); not applied", e);
        }
        catch (FormatException e)
        {
            throw new RestoreRecordException($"the restore record of {entry.Key} in {Name} is malformed", e);
        }
    }

    private static byte[] DeriveKey(byte[] agreement, byte[] salt, byte[] ephemeralPublic, byte[] vaultPublic)
    {
        try
        {
            byte[] info = [.. s_info, .. ephemeralPublic, .. vaultPublic];
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, agreement, 32, salt, info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(agreement);
        }
    }

    // Length-prefixed fields, so no two different tuples encode alike.
    private static byte[] AssociatedData(string vaultKeyId, Guid job, string objectKey, string keyId, int keyVersion, string spec, string? sourceETag)
    {
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        foreach (string field in (ReadOnlySpan<string>)[
            "poscuda/vault/1", vaultKeyId, job.ToString("D"), objectKey, keyId,
            keyVersion.ToString(CultureInfo.InvariantCulture), spec, sourceETag ?? ""])
        {
            byte[] bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            buffer.Write(length);
            buffer.Write(bytes);
        }

        return buffer.ToArray();
    }
}
