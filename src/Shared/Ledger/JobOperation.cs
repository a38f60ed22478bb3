using System.Text.Json;
using System.Text.Json.Serialization;

namespace PosCuda.Shared.Ledger;

/// <summary>A job's operation beyond a plain protect: re-keying, restoring, and the vault that restore records are sealed to. Holds no secret.</summary>
/// <param name="Kind">What the job does with each object.</param>
/// <param name="FromVersion">Rekey: the key version whose objects are re-protected.</param>
/// <param name="Originals">Rekey: where the originals are (a source location), or null to rebuild them from restore records.</param>
/// <param name="VaultKeyId">The vault key's id, when restore records are written or read.</param>
/// <param name="VaultPublicKey">The vault's public key (base64 SubjectPublicKeyInfo), when restore records are written.</param>
/// <param name="VaultStore">The store holding the restore records.</param>
public sealed record JobOperation(
    JobKind Kind,
    int FromVersion = 0,
    string? Originals = null,
    string? VaultKeyId = null,
    string? VaultPublicKey = null,
    string? VaultStore = null)
{
    /// <summary>The ledger's text of an operation: empty for a plain protect job.</summary>
    public static string ToText(JobOperation? operation)
        => operation is null ? "" : JsonSerializer.Serialize(operation, JobOperationJsonContext.Default.JobOperation);

    /// <summary>Parses <see cref="ToText"/>'s form.</summary>
    public static JobOperation? Parse(string text)
        => string.IsNullOrEmpty(text) ? null : JsonSerializer.Deserialize(text, JobOperationJsonContext.Default.JobOperation);
}

/// <summary>The serializer of <see cref="JobOperation"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(JobOperation))]
internal sealed partial class JobOperationJsonContext : JsonSerializerContext;
