namespace PosCuda.Shared.Protection;

/// <summary>One version of a keyring's secret.</summary>
/// <remarks>The secret is never printed: <see cref="ToString"/> omits it.</remarks>
public sealed class KeyVersion
{
    private readonly byte[] _secret;

    public KeyVersion(int version, ReadOnlySpan<byte> secret, DateTimeOffset created, KeyState state)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        if (secret.Length != 32)
        {
            throw new ArgumentException("A key secret is 32 bytes.", nameof(secret));
        }

        Version = version;
        _secret = secret.ToArray();
        Created = created;
        State = state;
    }

    /// <summary>The version number, from 1.</summary>
    public int Version { get; }

    /// <summary>When this version was created.</summary>
    public DateTimeOffset Created { get; }

    /// <summary>Active, retired or compromised.</summary>
    public KeyState State { get; }

    /// <summary>The 32-byte secret.</summary>
    public ReadOnlySpan<byte> Secret => _secret;

    /// <inheritdoc/>
    public override string ToString() => $"key version {Version} ({State})";
}
