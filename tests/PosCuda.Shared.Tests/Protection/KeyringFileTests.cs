using System.Runtime.Versioning;
using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

// Keyring files are POSIX-mode files: these tests run where the project runs (Linux).
[UnsupportedOSPlatform("windows")]
public sealed class KeyringFileTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // Version 1's secret is key A (0x00..0x1f), version 2's is key B (0xff..0xe0).
    private static readonly string s_secret1 = Convert.ToBase64String(SpecVectorTests.SecretA);
    private static readonly string s_secret2 = Convert.ToBase64String(SpecVectorTests.SecretB);

    private static readonly string s_valid = $$"""
        {
          "format": "poscuda-keyring/1",
          "keyId": "9f2c4e1a7b3d5c60",
          "active": 2,
          "versions": [
            { "version": 1, "secret": "{{s_secret1}}", "created": "2026-11-20T10:00:00Z", "state": "compromised" },
            { "version": 2, "secret": "{{s_secret2}}", "created": "2026-11-22T09:00:00Z", "state": "active" }
          ]
        }
        """;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("poscuda-keyring-");

    // Written by hand in the indented layout every saved keyring has had: loading and saving it must give the same bytes.
    private static readonly string s_saved = $$"""
        {
          "format": "poscuda-keyring/1",
          "keyId": "9f2c4e1a7b3d5c60",
          "active": 2,
          "versions": [
            {
              "version": 1,
              "secret": "{{s_secret1}}",
              "created": "2026-11-20T10:00:00Z",
              "state": "compromised"
            },
            {
              "version": 2,
              "secret": "{{s_secret2}}",
              "created": "2026-11-22T09:00:00Z",
              "state": "active"
            }
          ]
        }

        """;

    public static TheoryData<string, string> MalformedFiles => new()
    {
        { "not JSON", "{ \"format\": " },
        { "bad escape inside a secret", s_valid.Replace(s_secret1, s_secret1[..10] + "\\q" + s_secret1[10..], StringComparison.Ordinal) },
        { "not an object", "[]" },
        { "wrong format", s_valid.Replace("poscuda-keyring/1", "poscuda-keyring/2", StringComparison.Ordinal) },
        { "format missing", s_valid.Replace("\"format\": \"poscuda-keyring/1\",", "", StringComparison.Ordinal) },
        { "keyId upper-case", s_valid.Replace("9f2c4e1a7b3d5c60", "9F2C4E1A7B3D5C60", StringComparison.Ordinal) },
        { "keyId 15 digits", s_valid.Replace("9f2c4e1a7b3d5c60", "9f2c4e1a7b3d5c6", StringComparison.Ordinal) },
        { "keyId not hex", s_valid.Replace("9f2c4e1a7b3d5c60", "9f2c4e1a7b3d5c6g", StringComparison.Ordinal) },
        { "keyId a number", s_valid.Replace("\"9f2c4e1a7b3d5c60\"", "12", StringComparison.Ordinal) },
        { "active names no version", s_valid.Replace("\"active\": 2", "\"active\": 3", StringComparison.Ordinal) },
        { "active not an integer", s_valid.Replace("\"active\": 2", "\"active\": \"2\"", StringComparison.Ordinal) },
        { "active version not active", s_valid.Replace("\"state\": \"active\"", "\"state\": \"retired\"", StringComparison.Ordinal) },
        { "two active states", s_valid.Replace("\"compromised\"", "\"active\"", StringComparison.Ordinal) },
        { "version 0", s_valid.Replace("\"version\": 1", "\"version\": 0", StringComparison.Ordinal) },
        { "version repeated", s_valid.Replace("\"version\": 1", "\"version\": 2", StringComparison.Ordinal) },
        { "version fractional", s_valid.Replace("\"version\": 1", "\"version\": 1.5", StringComparison.Ordinal) },
        { "secret 31 bytes", s_valid.Replace(s_secret1, Convert.ToBase64String(SpecVectorTests.SecretA[..31]), StringComparison.Ordinal) },
        { "secret 33 bytes", s_valid.Replace(s_secret1, Convert.ToBase64String([.. SpecVectorTests.SecretA, 7]), StringComparison.Ordinal) },
        { "secret not base64", s_valid.Replace(s_secret1, s_secret1.Replace('A', '*'), StringComparison.Ordinal) },
        { "secret missing", s_valid.Replace($"\"secret\": \"{s_secret1}\",", "", StringComparison.Ordinal) },
        { "state unknown", s_valid.Replace("\"compromised\"", "\"revoked\"", StringComparison.Ordinal) },
        { "state capitalised", s_valid.Replace("\"compromised\"", "\"Compromised\"", StringComparison.Ordinal) },
        { "created not a time", s_valid.Replace("2026-11-20T10:00:00Z", "yesterday", StringComparison.Ordinal) },
        { "versions empty", "{ \"format\": \"poscuda-keyring/1\", \"keyId\": \"9f2c4e1a7b3d5c60\", \"active\": 1, \"versions\": [] }" },
        { "versions missing", "{ \"format\": \"poscuda-keyring/1\", \"keyId\": \"9f2c4e1a7b3d5c60\", \"active\": 1 }" },
        { "unknown field", s_valid.Replace("\"active\": 2", "\"active\": 2, \"owner\": \"me\"", StringComparison.Ordinal) },
        { "secret as a field name", s_valid.Replace("\"active\": 2", $"\"active\": 2, \"{s_secret1}\": 1", StringComparison.Ordinal) },
        { "duplicate field", s_valid.Replace("\"active\": 2", "\"active\": 2, \"active\": 2", StringComparison.Ordinal) },
        { "secret as the key id", s_valid.Replace("9f2c4e1a7b3d5c60", s_secret1, StringComparison.Ordinal) },
        { "secret as the format", s_valid.Replace("poscuda-keyring/1", s_secret1, StringComparison.Ordinal) },
        { "secret as a state", s_valid.Replace("\"compromised\"", $"\"{s_secret2}\"", StringComparison.Ordinal) },
        { "secret as a time", s_valid.Replace("2026-11-20T10:00:00Z", s_secret1, StringComparison.Ordinal) },
        { "secret as a version number", s_valid.Replace("\"version\": 1", $"\"version\": \"{s_secret1}\"", StringComparison.Ordinal) },
        { "secret unquoted", s_valid.Replace("\"active\": 2", $"\"active\": {s_secret1}", StringComparison.Ordinal) },
        { "secret in an unknown field", s_valid.Replace("\"active\": 2", $"\"active\": 2, \"backup\": \"{s_secret1}\"", StringComparison.Ordinal) },
        { "secret as a field name in a version", s_valid.Replace("\"version\": 1,", $"\"version\": 1, \"{s_secret2}\": true,", StringComparison.Ordinal) },
        { "secret twice in a version", s_valid.Replace($"\"secret\": \"{s_secret1}\"", $"\"secret\": \"{s_secret1}\", \"secret\": \"{s_secret2}\"", StringComparison.Ordinal) },
        { "secret as an array", s_valid.Replace($"\"{s_secret1}\"", $"[\"{s_secret1}\"]", StringComparison.Ordinal) },
        { "nested too deeply", s_valid.Replace("\"active\": 2", "\"active\": [[[[[[[[[[2]]]]]]]]]]", StringComparison.Ordinal) },
        { "null document", "null" },
        { "trailing content", s_valid + " {}" },
        { "a version is null", s_valid.Replace("\"versions\": [", "\"versions\": [ null,", StringComparison.Ordinal) },
    };

    public static TheoryData<string, string> StrictnessCases => new()
    {
        { s_valid.Replace("\"active\": 2", "\"active\": 2, \"owner\": \"me\"", StringComparison.Ordinal), "unknown field 'owner'" },
        { s_valid.Replace("\"active\": 2", "\"active\": 2, \"active\": 2", StringComparison.Ordinal), "field 'active' appears twice" },
        { s_valid.Replace("\"version\": 1,", "\"version\": 1, \"comment\": \"old\",", StringComparison.Ordinal), "versions[0]: unknown field 'comment'" },
        { s_valid.Replace("\"state\": \"active\"", "\"state\": \"active\", \"state\": \"active\"", StringComparison.Ordinal), "versions[1]: field 'state' appears twice" },
        { s_valid.Replace("\"active\": 2", $"\"active\": 2, \"{s_secret1}\": 1", StringComparison.Ordinal), "unknown field (name withheld)" },
        { s_valid.Replace("\"version\": 1,", $"\"version\": 1, \"{s_secret2}\": true,", StringComparison.Ordinal), "versions[0]: unknown field (name withheld)" },
        { s_valid.Replace("\"active\": 2", "\"active\": \"2\"", StringComparison.Ordinal), "'active' is not an integer >= 1" },
        { s_valid.Replace("\"versions\": [", "\"versions\": [ 7,", StringComparison.Ordinal), "versions[0] is not an object" },
        { "[]", "the document is not a JSON object" },
    };

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void Load_ValidFile_ReadsEveryField()
    {
        string path = WritePrivate(s_valid);

        Keyring keyring = KeyringFile.Load(path);

        Assert.Equal("9f2c4e1a7b3d5c60", keyring.KeyId);
        Assert.Equal(2, keyring.Active);
        Assert.Equal([1, 2], keyring.Versions.Select(v => v.Version));
        Assert.Equal(KeyState.Compromised, keyring.GetVersion(1).State);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero), keyring.GetVersion(1).Created);
        Assert.Equal(SpecVectorTests.SecretA, keyring.GetVersion(1).Secret.ToArray());
        Assert.Equal(SpecVectorTests.SecretB, keyring.ActiveVersion.Secret.ToArray());
        Assert.Equal(KeyState.Active, keyring.ActiveVersion.State);
    }

    [Theory]
    [MemberData(nameof(StrictnessCases))]
    public void Load_UnknownRepeatedOrMistypedField_RefusedSayingWhichAndWhere(string json, string reason)
    {
        string path = WritePrivate(json);

        KeyringException e = Assert.Throws<KeyringException>(() => KeyringFile.Load(path));

        Assert.Equal($"is malformed: {reason}", e.Reason);
    }

    [Fact]
    public void SaveAfterLoad_FileInTheSavedLayout_WritesTheSameBytes()
    {
        string original = WritePrivate(s_saved);
        string copy = Path.Combine(_folder.FullName, "copy.json");

        KeyringFile.Save(KeyringFile.Load(original), copy);

        Assert.Equal(File.ReadAllBytes(original), File.ReadAllBytes(copy));
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Load_MalformedFile_RejectedWithoutSecretMaterial(string problem, string json)
    {
        string path = WritePrivate(json);

        KeyringException e = Assert.Throws<KeyringException>(() => KeyringFile.Load(path));

        Assert.Equal(path, e.Path);
        Assert.StartsWith($"keyring {path} is ", e.Message, StringComparison.Ordinal);
        Assert.Null(e.InnerException);
        KeyringTests.AssertNoSecretMaterial(e.ToString(), problem);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.GroupExecute)]
    [InlineData(UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.OtherWrite)]
    [InlineData(UnixFileMode.OtherExecute)]
    public void Load_GroupOrOtherPermissionBit_Refused(UnixFileMode extra)
    {
        string path = WritePrivate(s_valid);
        File.SetUnixFileMode(path, Private | extra);

        KeyringException e = Assert.Throws<KeyringException>(() => KeyringFile.Load(path));

        string mode = Convert.ToString((int)(Private | extra), 8).PadLeft(4, '0');
        Assert.Equal($"keyring {path} is readable by group or others (mode {mode}); run chmod 600", e.Message);
        KeyringTests.AssertNoSecretMaterial(e.ToString(), "permissions");
    }

    [Fact]
    public void Load_Mode0644_RefusedWithTheExactMessage()
    {
        string path = WritePrivate(s_valid);
        File.SetUnixFileMode(path, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        KeyringException e = Assert.Throws<KeyringException>(() => KeyringFile.Load(path));

        Assert.Equal($"keyring {path} is readable by group or others (mode 0644); run chmod 600", e.Message);
    }

    [Fact]
    public void Load_MissingFile_ThrowsKeyringException()
    {
        string path = Path.Combine(_folder.FullName, "absent.json");

        KeyringException e = Assert.Throws<KeyringException>(() => KeyringFile.Load(path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveThenLoad_RotatedKeyring_RoundTrips()
    {
        Keyring keyring = Keyring.Create().Rotate(compromised: true).Rotate(compromised: false);
        string path = Path.Combine(_folder.FullName, "keyring.json");

        KeyringFile.Save(keyring, path);
        Keyring loaded = KeyringFile.Load(path);

        Assert.Equal(keyring.KeyId, loaded.KeyId);
        Assert.Equal(3, loaded.Active);
        Assert.Equal(keyring.Versions.Count, loaded.Versions.Count);
        for (int i = 0; i < keyring.Versions.Count; i++)
        {
            KeyVersion expected = keyring.Versions[i];
            KeyVersion actual = loaded.Versions[i];
            Assert.Equal(expected.Version, actual.Version);
            Assert.Equal(expected.State, actual.State);
            Assert.Equal(expected.Created, actual.Created);
            Assert.Equal(expected.Secret.ToArray(), actual.Secret.ToArray());
        }

        Assert.Equal(
            [KeyState.Compromised, KeyState.Retired, KeyState.Active], loaded.Versions.Select(v => v.State));
    }

    [Fact]
    public void Save_OverWorldReadableFile_ReplacesItWithMode0600AndLeavesNoTemporary()
    {
        string path = Path.Combine(_folder.FullName, "keyring.json");
        File.WriteAllText(path, "old");
        File.SetUnixFileMode(path, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        KeyringFile.Save(Keyring.Create(), path);

        Assert.Equal(Private, File.GetUnixFileMode(path));
        Assert.Equal(["keyring.json"], _folder.GetFiles().Select(f => f.Name));
        Assert.Contains("\"format\": \"poscuda-keyring/1\"", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void Save_InconsistentKeyring_Throws()
    {
        var keyring = new Keyring { KeyId = "0011223344556677", Active = 2, Versions = Keyring.Create().Versions };
        string path = Path.Combine(_folder.FullName, "keyring.json");

        Assert.Throws<InvalidOperationException>(() => KeyringFile.Save(keyring, path));
        Assert.False(File.Exists(path));
    }

    private string WritePrivate(string json)
    {
        string path = Path.Combine(_folder.FullName, $"keyring-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json, new System.Text.UTF8Encoding(false));
        File.SetUnixFileMode(path, Private);
        return path;
    }
}
