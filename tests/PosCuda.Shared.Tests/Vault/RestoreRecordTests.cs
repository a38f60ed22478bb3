using System.Security.Cryptography;
using System.Text.Json.Nodes;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Vault;
using PosCuda.Testing;

namespace PosCuda.Shared.Tests.Vault;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RestoreRecordTests
{
    private static readonly Guid s_job = Guid.Parse("0190f0e8-0000-7000-8000-000000000001");

    [Fact]
    public void Seal_ThenOpenWithThePrivateKey_RebuildsEveryOriginalByteForByte()
    {
        using VaultKey vault = VaultKey.Create();
        (byte[] original, byte[] published, RestoreEntry entry) = Sample("a.wav", 1);
        (byte[] original2, byte[] published2, RestoreEntry entry2) = Sample("b.wav", 2);

        byte[] record = RestoreRecord.Seal(vault.PublicKey, s_job, 7, [entry, entry2]);
        RestoreRecord read = RestoreRecord.Read(record, vault, "r.json");

        Assert.Equal(["a.wav", "b.wav"], read.Keys);
        RestoreEntry opened = read.Open(0);
        Assert.True(opened.TryRestore(published));
        Assert.Equal(original, published);
        Assert.True(read.Open(1).TryRestore(published2));
        Assert.Equal(original2, published2);
        Assert.Equal(1, opened.KeyVersion);
    }

    [Fact]
    public void Create_PatchedClip_KeepsOnlyTheChangedRegion()
    {
        (byte[] original, _, RestoreEntry entry) = Sample("a.wav", 1);

        // poscuda-v1 changes at most the patch: 240 frames of 16-bit mono.
        Assert.InRange(entry.Original.Length, 1, 480);
        Assert.Equal(original.Length, entry.Length);
    }

    [Fact]
    public void Open_TamperedEntry_FailsAuthenticationAndNamesTheObject()
    {
        using VaultKey vault = VaultKey.Create();
        byte[] record = RestoreRecord.Seal(vault.PublicKey, s_job, 1, [Sample("a.wav", 1).Entry]);
        JsonNode json = JsonNode.Parse(record)!;
        byte[] sealedBytes = Convert.FromBase64String((string)json["entries"]![0]!["sealed"]!);
        sealedBytes[20] ^= 1;
        json["entries"]![0]!["sealed"] = Convert.ToBase64String(sealedBytes);

        RestoreRecord read = RestoreRecord.Read(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), vault, "r.json");

        RestoreRecordException e = Assert.Throws<RestoreRecordException>(() => read.Open(0));
        Assert.Contains("a.wav", e.Message, StringComparison.Ordinal);
        Assert.Contains("fails authentication", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("key", "b.wav")]
    [InlineData("keyVersion", "2")]
    [InlineData("sourceETag", "other")]
    public void Open_EntryMovedToAnotherObjectOrVersion_FailsAuthentication(string field, string value)
    {
        using VaultKey vault = VaultKey.Create();
        byte[] record = RestoreRecord.Seal(vault.PublicKey, s_job, 1, [Sample("a.wav", 1).Entry]);
        JsonNode json = JsonNode.Parse(record)!;
        json["entries"]![0]![field] = field == "keyVersion" ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : value;

        RestoreRecord read = RestoreRecord.Read(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), vault, "r.json");

        Assert.Throws<RestoreRecordException>(() => read.Open(0));
    }

    [Fact]
    public void Open_SealedPartsOfTwoEntriesSwapped_BothFailAuthentication()
    {
        using VaultKey vault = VaultKey.Create();
        byte[] record = RestoreRecord.Seal(vault.PublicKey, s_job, 1, [Sample("a.wav", 1).Entry, Sample("b.wav", 2).Entry]);
        JsonNode json = JsonNode.Parse(record)!;
        JsonNode a = json["entries"]![0]!;
        JsonNode b = json["entries"]![1]!;
        (string nonceA, string sealedA) = ((string)a["nonce"]!, (string)a["sealed"]!);
        (a["nonce"], a["sealed"]) = ((string)b["nonce"]!, (string)b["sealed"]!);
        (b["nonce"], b["sealed"]) = (nonceA, sealedA);

        RestoreRecord read = RestoreRecord.Read(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), vault, "r.json");

        Assert.Throws<RestoreRecordException>(() => read.Open(0));
        Assert.Throws<RestoreRecordException>(() => read.Open(1));
    }

    [Fact]
    public void Read_WithAnotherVaultKey_IsRefused()
    {
        using VaultKey vault = VaultKey.Create();
        using VaultKey other = VaultKey.Create();
        byte[] record = RestoreRecord.Seal(vault.PublicKey, s_job, 1, [Sample("a.wav", 1).Entry]);

        RestoreRecordException e = Assert.Throws<RestoreRecordException>(() => RestoreRecord.Read(record, other, "r.json"));
        Assert.Contains(vault.KeyId, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_WithThePublicHalfOnly_CannotOpen()
    {
        using var temp = new TempDirectory();
        using VaultKey vault = VaultKey.Create();
        vault.Save(temp["vault.json"]);
        using (VaultKey loaded = VaultKey.Load(temp["vault.json"]))
        {
            loaded.Save(temp["public.json"], publicOnly: true);
        }

        using VaultKey publicOnly = VaultKey.Load(temp["public.json"]);
        byte[] record = RestoreRecord.Seal(publicOnly.PublicKey, s_job, 1, [Sample("a.wav", 1).Entry]);

        Assert.False(publicOnly.HasPrivateKey);
        Assert.DoesNotContain("privateKey", File.ReadAllText(temp["public.json"]), StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => RestoreRecord.Read(record, publicOnly, "r.json"));
        using VaultKey full = VaultKey.Load(temp["vault.json"]);
        Assert.Equal(vault.KeyId, full.KeyId);
        Assert.NotNull(RestoreRecord.Read(record, full, "r.json").Open(0));
    }

    [Fact]
    public void Load_FileOpenToGroup_IsRefused()
    {
        using var temp = new TempDirectory();
        using VaultKey vault = VaultKey.Create();
        vault.Save(temp["vault.json"]);
        File.SetUnixFileMode(temp["vault.json"], UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        KeyringException e = Assert.Throws<KeyringException>(() => VaultKey.Load(temp["vault.json"]));
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seal_SameEntriesTwice_UsesFreshKeysAndNonces()
    {
        using VaultKey vault = VaultKey.Create();
        RestoreEntry entry = Sample("a.wav", 1).Entry;

        JsonNode first = JsonNode.Parse(RestoreRecord.Seal(vault.PublicKey, s_job, 1, [entry]))!;
        JsonNode second = JsonNode.Parse(RestoreRecord.Seal(vault.PublicKey, s_job, 1, [entry]))!;

        Assert.NotEqual((string)first["ephemeralPublicKey"]!, (string)second["ephemeralPublicKey"]!);
        Assert.NotEqual((string)first["entries"]![0]!["sealed"]!, (string)second["entries"]![0]!["sealed"]!);
    }

    // A real poscuda-v1 protection of a synthetic 16-bit clip.
    private static (byte[] Original, byte[] Published, RestoreEntry Entry) Sample(string key, int seed)
    {
        byte[] original = PosCuda.Shared.Tests.Protection.SyntheticWav.Build(seed == 1 ? "mono16.wav" : "long16.wav");
        Keyring keyring = Keyring.Create();
        var parameters = new ProtectionParameters();
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(keyring.ActiveVersion.Secret, "3", parameters);
        byte[] published = (byte[])original.Clone();
        PoscudaV1.Instance.Protect(published, patch, parameters, key);
        Assert.NotEqual(original, published);
        return (original, published, RestoreEntry.Create(key, s_job, keyring.KeyId, seed, "poscuda-v1", "etag-" + key, original, published));
    }
}
