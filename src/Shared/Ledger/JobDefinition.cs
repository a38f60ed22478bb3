using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>What a job protects and how; recorded once when the job is planned. Holds no secret.</summary>
/// <param name="Source">The source location (local path or <c>s3://bucket/prefix</c>), without credentials.</param>
/// <param name="Destination">The destination location.</param>
/// <param name="LabelRule">The label rule as given (<c>dir</c>, <c>regex:...</c>, <c>csv:...</c>).</param>
/// <param name="Parameters">The spec and its parameters.</param>
/// <param name="KeyId">The keyring's key id.</param>
/// <param name="KeyVersion">The key version that protects this job.</param>
/// <param name="MaxAttempts">Claims of one batch before it is dead-lettered.</param>
/// <param name="TraceParent">The W3C <c>traceparent</c> of the job's trace, if traced.</param>
/// <param name="Operation">Rekey, restore, or a protect that writes restore records; null for a plain protect.</param>
public sealed record JobDefinition(
    string Source,
    string Destination,
    string LabelRule,
    ProtectionParameters Parameters,
    string KeyId,
    int KeyVersion,
    int MaxAttempts = 5,
    string? TraceParent = null,
    JobOperation? Operation = null)
{
    /// <summary>What the job does with each object.</summary>
    public JobKind Kind => Operation?.Kind ?? JobKind.Protect;
}
