using System.Text.Json.Serialization;

namespace PosCuda.Shared.Protection;

/// <summary>The source-generated, strict serializer of keyring files: unknown and repeated fields are refused.</summary>
/// <remarks>Numbers are never read from strings, and nesting deeper than a keyring needs is refused.</remarks>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowDuplicateProperties = false,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = 8)]
[JsonSerializable(typeof(KeyringDocument))]
internal sealed partial class KeyringJsonContext : JsonSerializerContext;
