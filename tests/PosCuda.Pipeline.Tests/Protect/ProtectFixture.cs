using PosCuda.Shared.Protection;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Protect;

/// <summary>A keyring and helpers shared by the protect tests.</summary>
public sealed class ProtectFixture : IDisposable
{
    public const string DigitLabels = @"regex:^(?<label>\d+)_";

    private readonly TempDirectory _dir = new("poscuda-keys");

    public ProtectFixture()
    {
        KeyringPath = _dir["keyring.json"];
        KeyringFile.Save(Keyring.Create(), KeyringPath);
        Keyring = KeyringFile.Load(KeyringPath);
    }

    public string KeyringPath { get; }

    public Keyring Keyring { get; }

    /// <summary>What poscuda-v1 makes of <paramref name="source"/> for <paramref name="label"/> with default parameters.</summary>
    public byte[] Expected(byte[] source, string label, string key, ProtectionParameters? parameters = null)
        => ProtectionOracle.Expected(Keyring, source, label, key, parameters);

    public void Dispose() => _dir.Dispose();
}
