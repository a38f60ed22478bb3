using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>The keyring model; reading and writing the file is <see cref="KeyringFileTests"/>'s.</summary>
public sealed class KeyringTests
{
    [Fact]
    public void Create_NewKeyring_HasOneActiveRandomVersion()
    {
        Keyring first = Keyring.Create();
        Keyring second = Keyring.Create();

        Assert.Matches("^[0-9a-f]{16}$", first.KeyId);
        Assert.NotEqual(first.KeyId, second.KeyId);
        KeyVersion version = Assert.Single(first.Versions);
        Assert.Equal(1, first.Active);
        Assert.Equal(1, version.Version);
        Assert.Equal(KeyState.Active, version.State);
        Assert.Equal(32, version.Secret.Length);
        Assert.False(version.Secret.SequenceEqual(second.ActiveVersion.Secret));
    }

    [Theory]
    [InlineData(false, KeyState.Retired)]
    [InlineData(true, KeyState.Compromised)]
    public void Rotate_Always_AddsActiveVersionAndDemotesPrevious(bool compromised, KeyState previous)
    {
        Keyring original = Keyring.Create();

        Keyring rotated = original.Rotate(compromised);

        Assert.Equal(original.KeyId, rotated.KeyId);
        Assert.Equal(2, rotated.Active);
        Assert.Equal([1, 2], rotated.Versions.Select(v => v.Version));
        Assert.Equal(previous, rotated.GetVersion(1).State);
        Assert.Equal(KeyState.Active, rotated.ActiveVersion.State);
        Assert.Equal(original.ActiveVersion.Secret.ToArray(), rotated.GetVersion(1).Secret.ToArray());
        Assert.False(rotated.ActiveVersion.Secret.SequenceEqual(rotated.GetVersion(1).Secret));

        // The original is untouched.
        Assert.Equal(KeyState.Active, Assert.Single(original.Versions).State);
    }

    [Fact]
    public void ToString_KeyringAndVersions_NeverShowSecrets()
    {
        Keyring keyring = Known();

        AssertNoSecretMaterial(keyring.ToString(), "keyring");
        Assert.Contains("9f2c4e1a7b3d5c60", keyring.ToString(), StringComparison.Ordinal);
        foreach (KeyVersion version in keyring.Versions)
        {
            AssertNoSecretMaterial(version.ToString(), "version");
        }
    }

    [Fact]
    public void GetVersion_Missing_ThrowsWithoutSecrets()
    {
        Keyring keyring = Known();

        KeyNotFoundException e = Assert.Throws<KeyNotFoundException>(() => keyring.GetVersion(9));

        AssertNoSecretMaterial(e.Message, "lookup");
    }

    [Fact]
    public void KeyId_NotLowerCaseHex_Rejected()
    {
        Assert.Throws<ArgumentException>(
            () => new Keyring { KeyId = "ABCDEF0123456789", Active = 1, Versions = Keyring.Create().Versions });
    }

    [Fact]
    public void Versions_SameNumberTwice_Rejected()
    {
        KeyVersion version = Keyring.Create().ActiveVersion;

        Assert.Throws<ArgumentException>(() => new Keyring { KeyId = "0011223344556677", Active = 1, Versions = [version, version] });
    }

    /// <summary>Asserts that <paramref name="text"/> holds neither test secret, whole or in part, as base64 or hex.</summary>
    internal static void AssertNoSecretMaterial(string text, string context)
    {
        foreach (byte[] secret in new[] { SpecVectorTests.SecretA, SpecVectorTests.SecretB })
        {
            string base64 = Convert.ToBase64String(secret);
            string hex = Convert.ToHexString(secret);

            // Not the whole secret, and not a prefix of it either (8 characters is 6 bytes of base64, 4 of hex).
            Assert.False(text.Contains(base64[..8], StringComparison.Ordinal), $"{context}: base64 of a secret in '{text}'");
            Assert.False(text.Contains(hex[..8], StringComparison.OrdinalIgnoreCase), $"{context}: hex of a secret in '{text}'");
        }
    }

    // Version 1's secret is key A, version 2's is key B; version 2 is active.
    private static Keyring Known() => new()
    {
        KeyId = "9f2c4e1a7b3d5c60",
        Active = 2,
        Versions =
        [
            new KeyVersion(1, SpecVectorTests.SecretA, new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero), KeyState.Compromised),
            new KeyVersion(2, SpecVectorTests.SecretB, new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero), KeyState.Active),
        ],
    };
}
