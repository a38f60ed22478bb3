using System.Security.Cryptography;

namespace PosCuda.Shared.Protection;

/// <summary>A keyring: a key id and its versions (docs/spec.md, "Keyring"), one of them active.</summary>
/// <remarks>
/// The model only; <see cref="KeyringFile"/> reads and writes the <c>poscuda-keyring/1</c> file. No message this type
/// produces contains a secret or a part of one.
/// </remarks>
public sealed class Keyring
{
    private string _keyId = string.Empty;
    private KeyVersion[] _versions = [];

    /// <summary>The key id: 8 random bytes, lower-case hex. Safe to log.</summary>
    public required string KeyId
    {
        get => _keyId;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!IsKeyId(value))
            {
                throw new ArgumentException("A key id is 16 lower-case hex digits.", nameof(value));
            }

            _keyId = value;
        }
    }

    /// <summary>The version that protects new jobs.</summary>
    public required int Active { get; init; }

    /// <summary>All versions, oldest first.</summary>
    public required IReadOnlyList<KeyVersion> Versions
    {
        get => _versions;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            KeyVersion[] versions = [.. value];
            Array.Sort(versions, static (a, b) => a.Version.CompareTo(b.Version));
            for (int i = 1; i < versions.Length; i++)
            {
                if (versions[i].Version == versions[i - 1].Version)
                {
                    throw new ArgumentException($"Key version {versions[i].Version} appears twice.", nameof(value));
                }
            }

            _versions = versions;
        }
    }

    /// <summary>The active version.</summary>
    public KeyVersion ActiveVersion => GetVersion(Active);

    /// <summary>Returns version <paramref name="version"/>.</summary>
    /// <exception cref="KeyNotFoundException">The keyring has no such version.</exception>
    public KeyVersion GetVersion(int version)
        => TryGetVersion(version, out KeyVersion? found)
            ? found
            : throw new KeyNotFoundException($"keyring {KeyId} has no key version {version}");

    /// <summary>Looks up version <paramref name="version"/>.</summary>
    public bool TryGetVersion(int version, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out KeyVersion? found)
    {
        foreach (KeyVersion candidate in _versions)
        {
            if (candidate.Version == version)
            {
                found = candidate;
                return true;
            }
        }

        found = null;
        return false;
    }

    /// <summary>Creates a new keyring: a random key id and version 1, active, with a secret from the CSPRNG.</summary>
    public static Keyring Create(TimeProvider? timeProvider = null)
    {
        DateTimeOffset now = TruncateToSeconds((timeProvider ?? TimeProvider.System).GetUtcNow());
        return new Keyring
        {
            KeyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Active = 1,
            Versions = [NewVersion(1, now)],
        };
    }

    /// <summary>Returns a copy with a new active version; the previous active one becomes retired or compromised.</summary>
    /// <param name="compromised">Whether the previous active version's secret has leaked.</param>
    /// <param name="timeProvider">The clock for the new version's creation time; the system clock when null.</param>
    public Keyring Rotate(bool compromised, TimeProvider? timeProvider = null)
    {
        DateTimeOffset now = TruncateToSeconds((timeProvider ?? TimeProvider.System).GetUtcNow());
        int next = _versions.Length == 0 ? 1 : _versions[^1].Version + 1;
        KeyState previous = compromised ? KeyState.Compromised : KeyState.Retired;
        var versions = new List<KeyVersion>(_versions.Length + 1);
        foreach (KeyVersion version in _versions)
        {
            versions.Add(version.Version == Active
                ? new KeyVersion(version.Version, version.Secret, version.Created, previous)
                : version);
        }

        versions.Add(NewVersion(next, now));
        return new Keyring { KeyId = KeyId, Active = next, Versions = versions };
    }

    /// <inheritdoc/>
    public override string ToString() => $"keyring {KeyId} (active version {Active})";

    private static KeyVersion NewVersion(int version, DateTimeOffset created)
    {
        Span<byte> secret = stackalloc byte[32];
        RandomNumberGenerator.Fill(secret);
        try
        {
            return new KeyVersion(version, secret, created, KeyState.Active);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset time)
    {
        DateTimeOffset utc = time.ToUniversalTime();
        return utc.AddTicks(-(utc.Ticks % TimeSpan.TicksPerSecond));
    }

    internal static bool IsKeyId(string value)
    {
        if (value.Length != 16)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Returns what makes the keyring inconsistent, or null when it is consistent.</summary>
    internal string? FindInconsistency()
    {
        if (_versions.Length == 0)
        {
            return "it has no versions";
        }

        if (!TryGetVersion(Active, out KeyVersion? active))
        {
            return $"'active' names version {Active}, which does not exist";
        }

        if (active.State != KeyState.Active)
        {
            return $"the active version {Active} has state {StateName(active.State)}";
        }

        foreach (KeyVersion version in _versions)
        {
            if (version.Version != Active && version.State == KeyState.Active)
            {
                return $"version {version.Version} has state active but 'active' is {Active}";
            }
        }

        return null;
    }

    /// <summary>The state's name in the file and in messages.</summary>
    internal static string StateName(KeyState state) => state switch
    {
        KeyState.Active => "active",
        KeyState.Retired => "retired",
        KeyState.Compromised => "compromised",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };
}
