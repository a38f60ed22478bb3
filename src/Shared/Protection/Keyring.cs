using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace PosCuda.Shared.Protection;

/// <summary>A keyring file (<c>poscuda-keyring/1</c>): a key id and its versions, one active.</summary>
/// <remarks>
/// The file is JSON with mode 0600 (DESIGN.md section 1). <see cref="Load"/> validates every field and refuses a
/// file that any group or other permission bit opens up; <see cref="Save"/> replaces a file atomically and the
/// file never exists with a wider mode. No message this type produces contains a secret or a part of one.
/// </remarks>
public sealed class Keyring
{
    /// <summary>The value of the file's <c>format</c> field.</summary>
    public const string Format = "poscuda-keyring/1";

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // A keyring with 2040 versions is still far below this; anything larger is not a keyring.
    private const int MaxFileBytes = 1 << 20;

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

    /// <summary>Loads a keyring file, refusing one readable by group or others.</summary>
    /// <exception cref="KeyringException">The file cannot be read, is open to group or others, or is malformed.</exception>
    public static Keyring Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] content = ReadPrivateFile(path);
        try
        {
            return Parse(content, path);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>Writes the keyring to <paramref name="path"/> atomically, with mode 0600.</summary>
    /// <remarks>
    /// The bytes go to a new file in the same folder, created with mode 0600, flushed to disk, and renamed over
    /// <paramref name="path"/>; a reader sees the old file or the new one, and neither is ever readable by others.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The keyring is not consistent (see <see cref="Load"/>).</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (ValidateConsistency() is { } problem)
        {
            throw new InvalidOperationException($"keyring {KeyId} cannot be saved: {problem}");
        }

        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException("The path has no folder.", nameof(path));
        string temporary = Path.Combine(
            folder, $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        byte[] json = Serialize();
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(json);
        }
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

    private static bool IsKeyId(string value)
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

    private static string FormatMode(UnixFileMode mode)
        => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    private static byte[] ReadPrivateFile(string path)
    {
        try
        {
            using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);

            // Checked on the open handle, so the file read is the file checked.
            if (!OperatingSystem.IsWindows())
            {
                UnixFileMode mode = File.GetUnixFileMode(handle);
                if ((mode & GroupOrOther) != 0)
                {
                    throw new KeyringException(
                        path, $"is readable by group or others (mode {FormatMode(mode)}); run chmod 600");
                }
            }

            long length = RandomAccess.GetLength(handle);
            if (length > MaxFileBytes)
            {
                throw new KeyringException(path, $"is malformed: {length} bytes is too large for a keyring");
            }

            byte[] content = new byte[length];
            int total = 0;
            while (total < content.Length)
            {
                int read = RandomAccess.Read(handle, content.AsSpan(total), total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            if (total == content.Length)
            {
                return content;
            }

            // The file shrank while being read: keep what was read, and wipe the longer buffer's copy of the secret.
            byte[] exact = content[..total];
            CryptographicOperations.ZeroMemory(content);
            return exact;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyringException(path, $"cannot be read: {e.Message}", e);
        }
    }

    private static Keyring Parse(byte[] content, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            // The parser's own message may quote a character of the input (a secret's, say): report only where.
            throw new KeyringException(
                path, $"is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }

        using (document)
        {
            return ParseRoot(document.RootElement, path);
        }
    }

    private static Keyring ParseRoot(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Malformed(path, "the document is not a JSON object");
        }

        string? keyId = null;
        int? active = null;
        List<KeyVersion>? versions = null;
        bool hasFormat = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                throw Malformed(path, $"field {Quote(property.Name)} appears twice");
            }

            switch (property.Name)
            {
                case "format":
                    if (property.Value.ValueKind != JsonValueKind.String || !property.Value.ValueEquals(Format))
                    {
                        throw Malformed(path, $"'format' is not \"{Format}\"");
                    }

                    hasFormat = true;
                    break;
                case "keyId":
                    keyId = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                    if (keyId is null || !IsKeyId(keyId))
                    {
                        throw Malformed(path, "'keyId' is not 16 lower-case hex digits");
                    }

                    break;
                case "active":
                    active = ReadVersionNumber(property.Value, path, "'active'");
                    break;
                case "versions":
                    versions = ParseVersions(property.Value, path);
                    break;
                default:
                    throw Malformed(path, $"unknown field {Quote(property.Name)}");
            }
        }

        if (!hasFormat)
        {
            throw Malformed(path, "'format' is missing");
        }

        if (keyId is null || active is null || versions is null)
        {
            string missing = keyId is null ? "keyId" : active is null ? "active" : "versions";
            throw Malformed(path, $"'{missing}' is missing");
        }

        Keyring keyring;
        try
        {
            keyring = new Keyring { KeyId = keyId, Active = active.Value, Versions = versions };
        }
        catch (ArgumentException e)
        {
            throw Malformed(path, e.Message);
        }

        if (keyring.ValidateConsistency() is { } problem)
        {
            throw Malformed(path, problem);
        }

        return keyring;
    }

    private static List<KeyVersion> ParseVersions(JsonElement array, string path)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw Malformed(path, "'versions' is not an array");
        }

        var versions = new List<KeyVersion>(array.GetArrayLength());
        var numbers = new HashSet<int>();
        int index = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            string where = $"versions[{index}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(path, $"{where} is not an object");
            }

            int? version = null;
            byte[]? secret = null;
            DateTimeOffset? created = null;
            KeyState? state = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (JsonProperty property in item.EnumerateObject())
                {
                    if (!seen.Add(property.Name))
                    {
                        throw Malformed(path, $"{where}: field {Quote(property.Name)} appears twice");
                    }

                    switch (property.Name)
                    {
                        case "version":
                            version = ReadVersionNumber(property.Value, path, $"{where}.version");
                            break;
                        case "secret":
                            // Decoded straight from the document's bytes: no string copy of the secret is made.
                            if (property.Value.ValueKind != JsonValueKind.String
                                || !property.Value.TryGetBytesFromBase64(out secret)
                                || secret.Length != 32)
                            {
                                throw Malformed(path, $"{where}.secret is not base64 of exactly 32 bytes");
                            }

                            break;
                        case "created":
                            created = ReadTimestamp(property.Value, path, $"{where}.created");
                            break;
                        case "state":
                            state = ReadState(property.Value, path, $"{where}.state");
                            break;
                        default:
                            throw Malformed(path, $"{where}: unknown field {Quote(property.Name)}");
                    }
                }

                if (version is null || secret is null || created is null || state is null)
                {
                    string missing = version is null ? "version" : secret is null ? "secret" : created is null ? "created" : "state";
                    throw Malformed(path, $"{where}.{missing} is missing");
                }

                if (!numbers.Add(version.Value))
                {
                    throw Malformed(path, $"key version {version.Value} appears twice");
                }

                versions.Add(new KeyVersion(version.Value, secret, created.Value, state.Value));
            }
            finally
            {
                if (secret is not null)
                {
                    CryptographicOperations.ZeroMemory(secret);
                }
            }

            index++;
        }

        if (versions.Count == 0)
        {
            throw Malformed(path, "'versions' is empty");
        }

        return versions;
    }

    private static int ReadVersionNumber(JsonElement value, string path, string what)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number) || number < 1)
        {
            throw Malformed(path, $"{what} is not an integer >= 1");
        }

        return number;
    }

    private static DateTimeOffset ReadTimestamp(JsonElement value, string path, string what)
    {
        if (value.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(
                value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset created))
        {
            throw Malformed(path, $"{what} is not an ISO 8601 timestamp");
        }

        return created;
    }

    private static KeyState ReadState(JsonElement value, string path, string what)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            if (value.ValueEquals("active"))
            {
                return KeyState.Active;
            }

            if (value.ValueEquals("retired"))
            {
                return KeyState.Retired;
            }

            if (value.ValueEquals("compromised"))
            {
                return KeyState.Compromised;
            }
        }

        throw Malformed(path, $"{what} is not one of active, retired, compromised");
    }

    // Field names are echoed to help fix typos, but only short plain words: a name could be a pasted secret.
    private static string Quote(string name)
    {
        if (name.Length is 0 or > 24)
        {
            return "(name withheld)";
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetter(c) && c != '_')
            {
                return "(name withheld)";
            }
        }

        return $"'{name}'";
    }

    private static KeyringException Malformed(string path, string reason) => new(path, $"is malformed: {reason}");

    /// <summary>Returns what makes the keyring inconsistent, or null when it is consistent.</summary>
    private string? ValidateConsistency()
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

    private static string StateName(KeyState state) => state switch
    {
        KeyState.Active => "active",
        KeyState.Retired => "retired",
        KeyState.Compromised => "compromised",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    private byte[] Serialize()
    {
        // Sized up front so the buffer never grows: a grown buffer would leave an unwiped copy of the secrets behind.
        var buffer = new ArrayBufferWriter<byte>(1024 + (256 * _versions.Length));
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            writer.WriteString("keyId", KeyId);
            writer.WriteNumber("active", Active);
            writer.WriteStartArray("versions");
            foreach (KeyVersion version in _versions)
            {
                writer.WriteStartObject();
                writer.WriteNumber("version", version.Version);
                writer.WriteBase64String("secret", version.Secret);
                writer.WriteString(
                    "created",
                    version.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
                writer.WriteString("state", StateName(version.State));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        byte[] json = buffer.WrittenSpan.ToArray();
        buffer.Clear(); // Clear wipes the written bytes.
        return json;
    }
}
