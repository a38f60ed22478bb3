using System.Text.Json.Serialization;

namespace PosCuda.Shared.Vault;

/// <summary>The source-generated, strict serializer of vault key files and restore records: unknown and repeated fields are refused.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowDuplicateProperties = false,
    NumberHandling = JsonNumberHandling.Strict,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 8)]
[JsonSerializable(typeof(VaultKeyDocument))]
[JsonSerializable(typeof(RestoreRecordDocument))]
internal sealed partial class VaultJsonContext : JsonSerializerContext;
