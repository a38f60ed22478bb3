namespace PosCuda.Shared.Protection;

/// <summary>A keyring file (<c>poscuda-keyring/1</c>): a key id and its versions, one active.</summary>
public sealed class Keyring
{
    /// <summary>The key id: 8 random bytes, lower-case hex. Safe to log.</summary>
    public required string KeyId { get; init; }

    /// <summary>The version that protects new jobs.</summary>
    public required int Active { get; init; }

    /// <summary>All versions, oldest first.</summary>
    public required IReadOnlyList<KeyVersion> Versions { get; init; }

    /// <summary>The active version.</summary>
    public KeyVersion ActiveVersion => GetVersion(Active);

    /// <summary>Returns version <paramref name="version"/>.</summary>
    public KeyVersion GetVersion(int version) => throw new NotImplementedException();

    /// <summary>Loads a keyring file, refusing one readable by group or others.</summary>
    public static Keyring Load(string path) => throw new NotImplementedException();

    /// <inheritdoc/>
    public override string ToString() => $"keyring {KeyId} (active version {Active})";
}
