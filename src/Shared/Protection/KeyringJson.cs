using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PosCuda.Shared.Protection;

/// <summary>Converts a <see cref="Keyring"/> to and from its <c>poscuda-keyring/1</c> JSON (docs/spec.md, "Keyring").</summary>
/// <remarks>
/// Parsing is strict (<see cref="KeyringJsonContext"/>) and every failure becomes a <see cref="KeyringException"/> whose
/// message says what and where, never a secret or a part of one: the serializer's own messages may quote the input, so
/// none is passed on, and a field name is echoed only when it is a short plain word.
/// </remarks>
internal static class KeyringJson
{
    /// <summary>The value of the file's <c>format</c> field.</summary>
    public const string Format = "poscuda-keyring/1";

    private const string WithheldName = "(name withheld)";

    /// <summary>Parses and validates a keyring file's content.</summary>
    /// <param name="utf8">The file's bytes; the caller wipes them.</param>
    /// <param name="path">The file's path, for messages.</param>
    /// <exception cref="KeyringException">The content is not a valid keyring.</exception>
    public static Keyring Parse(ReadOnlySpan<byte> utf8, string path)
    {
        // A fresh converter per parse remembers every secret buffer it decodes, so that even a parse that fails halfway
        // wipes them all.
        using var secrets = new SecretBuffers();
        var options = new JsonSerializerOptions(KeyringJsonContext.Default.Options) { Converters = { secrets } };
        var context = new KeyringJsonContext(options);
        KeyringDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8, context.KeyringDocument);
        }
        catch (JsonException e)
        {
            throw Describe(e, path);
        }

        return document is null ? throw Malformed(path, "the document is not a JSON object") : ToKeyring(document, path);
    }

    /// <summary>Writes <paramref name="keyring"/> as indented JSON ending in a newline.</summary>
    /// <remarks>Sized up front so the buffer never grows: a grown buffer would leave an unwiped copy of the secrets behind. The caller wipes the result.</remarks>
    public static byte[] Serialize(Keyring keyring)
    {
        var document = new KeyringDocument
        {
            Format = Format,
            KeyId = keyring.KeyId,
            Active = keyring.Active,
            Versions = [.. keyring.Versions.Select(static v => new KeyringDocument.VersionDocument
            {
                Version = v.Version,
                Secret = v.Secret.ToArray(),
                Created = v.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
                State = Keyring.StateName(v.State),
            })],
        };
        var buffer = new ArrayBufferWriter<byte>(1024 + (256 * document.Versions.Count));
        try
        {
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                JsonSerializer.Serialize(writer, document, KeyringJsonContext.Default.KeyringDocument);
            }

            buffer.Write("\n"u8);
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            buffer.Clear(); // Clear wipes the written bytes.
            foreach (KeyringDocument.VersionDocument version in document.Versions)
            {
                CryptographicOperations.ZeroMemory(version.Secret);
            }
        }
    }

    private static Keyring ToKeyring(KeyringDocument document, string path)
    {
        if (document.Format is null)
        {
            throw Malformed(path, "'format' is missing");
        }

        if (document.Format != Format)
        {
            throw Malformed(path, $"'format' is not \"{Format}\"");
        }

        string keyId = document.KeyId ?? throw Malformed(path, "'keyId' is missing");
        if (!Keyring.IsKeyId(keyId))
        {
            throw Malformed(path, Expected("keyId", "keyId"));
        }

        int active = document.Active ?? throw Malformed(path, "'active' is missing");
        if (active < 1)
        {
            throw Malformed(path, Expected("active", "active"));
        }

        List<KeyringDocument.VersionDocument> items = document.Versions ?? throw Malformed(path, "'versions' is missing");
        if (items.Count == 0)
        {
            throw Malformed(path, "'versions' is empty");
        }

        var versions = new List<KeyVersion>(items.Count);
        var numbers = new HashSet<int>();
        for (int i = 0; i < items.Count; i++)
        {
            versions.Add(ToVersion(items[i], $"versions[{i}]", numbers, path));
        }

        var keyring = new Keyring { KeyId = keyId, Active = active, Versions = versions };
        return keyring.FindInconsistency() is { } problem ? throw Malformed(path, problem) : keyring;
    }

    private static KeyVersion ToVersion(KeyringDocument.VersionDocument? item, string where, HashSet<int> numbers, string path)
    {
        if (item is null)
        {
            throw Malformed(path, $"{where} is not an object");
        }

        int version = item.Version ?? throw Malformed(path, $"{where}.version is missing");
        byte[] secret = item.Secret ?? throw Malformed(path, $"{where}.secret is missing");
        string created = item.Created ?? throw Malformed(path, $"{where}.created is missing");
        string state = item.State ?? throw Malformed(path, $"{where}.state is missing");
        if (version < 1)
        {
            throw Malformed(path, $"{where}.{Expected("version", "version")}");
        }

        if (secret.Length != 32)
        {
            throw Malformed(path, $"{where}.{Expected("secret", "secret")}");
        }

        if (!DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time))
        {
            throw Malformed(path, $"{where}.{Expected("created", "created")}");
        }

        KeyState parsed = state switch
        {
            "active" => KeyState.Active,
            "retired" => KeyState.Retired,
            "compromised" => KeyState.Compromised,
            _ => throw Malformed(path, $"{where}.{Expected("state", "state")}"),
        };
        return numbers.Add(version)
            ? new KeyVersion(version, secret, time, parsed)
            : throw Malformed(path, $"key version {version} appears twice");
    }

    /// <summary>Turns the serializer's exception into a message with no input text in it.</summary>
    private static KeyringException Describe(JsonException e, string path)
    {
        if (e.InnerException is JsonException)
        {
            // The reader's own message may quote a character of the input (a secret's, say): report only where.
            return new KeyringException(path, $"is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }

        (string where, string field) = Locate(e.Path);
        string reason = e.Message switch
        {
            _ when e.Message.Contains("could not be mapped", StringComparison.Ordinal) => $"{Prefix(where, field)}unknown field {Name(field)}",
            _ when e.Message.StartsWith("Duplicate", StringComparison.OrdinalIgnoreCase) => $"{Prefix(where, field)}field {Name(field)} appears twice",
            _ when where == "$" => "the document is not a JSON object",
            _ when e.Message.Contains("maximum configured depth", StringComparison.Ordinal) => "it is nested too deeply",
            _ => Expected(where, field),
        };
        return Malformed(path, reason);
    }

    /// <summary>Splits a JSON path such as <c>$.versions[0].secret</c> into <c>versions[0].secret</c> and its last field name.</summary>
    /// <remarks>A name that is not a short plain word (it could be a pasted secret) comes back empty, and the path stops before it.</remarks>
    private static (string Where, string Field) Locate(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$" || !jsonPath.StartsWith('$'))
        {
            return ("$", string.Empty);
        }

        var where = new System.Text.StringBuilder();
        string field = string.Empty;
        int i = 1;
        while (i < jsonPath.Length)
        {
            if (jsonPath[i] == '.')
            {
                int end = jsonPath.IndexOfAny(['.', '['], i + 1);
                string name = jsonPath[(i + 1)..(end < 0 ? jsonPath.Length : end)];
                if (!IsPlainName(name))
                {
                    return (where.Length == 0 ? "$" : where.ToString(), string.Empty);
                }

                where.Append(where.Length == 0 ? string.Empty : ".").Append(name);
                field = name;
                i = end < 0 ? jsonPath.Length : end;
            }
            else if (jsonPath[i] == '[' && jsonPath.IndexOf(']', i) is int close and > 0 && int.TryParse(jsonPath.AsSpan(i + 1, close - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                where.Append(jsonPath, i, close - i + 1);
                field = string.Empty;
                i = close + 1;
            }
            else
            {
                // ['odd name']: never echoed.
                return (where.Length == 0 ? "$" : where.ToString(), string.Empty);
            }
        }

        return (where.ToString(), field);
    }

    /// <summary>Where an unknown or repeated field sits, as a message prefix (empty at the top level).</summary>
    private static string Prefix(string where, string field)
    {
        string parent = field.Length == 0 ? where : where.LastIndexOf('.') is int dot and >= 0 ? where[..dot] : "$";
        return parent == "$" ? string.Empty : parent + ": ";
    }

    /// <summary>What a field must hold, for a value of the wrong type or out of range.</summary>
    private static string Expected(string where, string field) => field switch
    {
        "format" => $"'format' is not \"{Format}\"",
        "keyId" => "'keyId' is not 16 lower-case hex digits",
        "active" => "'active' is not an integer >= 1",
        "versions" => "'versions' is not an array",
        "version" => $"{where} is not an integer >= 1",
        "secret" => $"{where} is not base64 of exactly 32 bytes",
        "created" => $"{where} is not an ISO 8601 timestamp",
        "state" => $"{where} is not one of active, retired, compromised",
        _ when where.EndsWith(']') => $"{where} is not an object",
        _ => $"{where} has a value of the wrong type",
    };

    // Field names are echoed to help fix typos, but only short plain words: a name could be a pasted secret.
    private static bool IsPlainName(string name)
    {
        if (name.Length is 0 or > 24)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetter(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    private static string Name(string field) => field.Length == 0 ? WithheldName : $"'{field}'";

    private static KeyringException Malformed(string path, string reason) => new(path, $"is malformed: {reason}");

    /// <summary>Decodes base64 secrets for one parse and wipes every buffer it handed out when disposed.</summary>
    private sealed class SecretBuffers : JsonConverter<byte[]>, IDisposable
    {
        private readonly List<byte[]> _buffers = [];

        public override byte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            // Decoded straight from the document's bytes: no string copy of the secret is made.
            if (reader.TokenType != JsonTokenType.String || !reader.TryGetBytesFromBase64(out byte[]? bytes))
            {
                throw new JsonException();
            }

            _buffers.Add(bytes);
            return bytes;
        }

        public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) => writer.WriteBase64StringValue(value);

        public void Dispose()
        {
            foreach (byte[] buffer in _buffers)
            {
                CryptographicOperations.ZeroMemory(buffer);
            }
        }
    }
}
