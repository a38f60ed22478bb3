using System.Text.Json.Serialization;
using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Protocol;

/// <summary>Every message the engine's actors send each other; serialised by <see cref="EngineSerializer"/>, never by the default polymorphic JSON.</summary>
/// <remarks>Messages carry ids and object keys, never audio bytes.</remarks>
public interface IEngineMessage;

/// <summary>A message for one class's <c>ClassShard</c> entity, routed by (job, class).</summary>
public interface IClassMessage : IEngineMessage
{
    /// <summary>The job.</summary>
    Guid JobId { get; }

    /// <summary>The class label.</summary>
    string Label { get; }
}

/// <summary>A worker asks a class for a batch under a fenced lease.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Label">The class.</param>
/// <param name="WorkerId">The worker's name in the ledger (node and slot).</param>
/// <param name="LeaseSeconds">How long the lease lasts before it must be renewed.</param>
/// <param name="TraceParent">The W3C traceparent of the asking worker's context, if traced.</param>
/// <param name="MergeUpTo">
/// Objects the worker takes in one lease: the shard merges further never-attempted batches of the class into the claimed one up to
/// this many; 0 takes one batch as planned. A GPU worker asks for more, so its engine gets larger launches. Left out of the JSON
/// when 0, so a CPU worker's request reads the same to a node of an earlier release.
/// </param>
public sealed record RequestBatch(
    Guid JobId,
    string Label,
    string WorkerId,
    double LeaseSeconds,
    string? TraceParent,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int MergeUpTo = 0) : IClassMessage;

/// <summary>A worker still holds a batch of this class (sent with every lease renewal), so a restarted shard watches it again.</summary>
public sealed record StillHolding(Guid JobId, string Label, long BatchId, Guid LeaseToken, int Attempt, string WorkerId) : IClassMessage;

/// <summary>A worker is done with a batch (completed, released or lost): the shard stops tracking it.</summary>
public sealed record BatchReturned(Guid JobId, string Label, long BatchId, Guid LeaseToken) : IClassMessage;

/// <summary>The job coordinator keeps the shard of a class with work alive (and so restarts it after a crash).</summary>
public sealed record KeepAlive(Guid JobId, string Label) : IClassMessage;

/// <summary>Sharding's hand-off asks a shard to stop; it gives up nothing (leases live in the ledger and with the workers).</summary>
public sealed record StopShard : IEngineMessage
{
    /// <summary>The one instance.</summary>
    public static readonly StopShard Instance = new();
}

/// <summary>A shard's answer: a batch leased to the asking worker.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Label">The class.</param>
/// <param name="BatchId">The batch.</param>
/// <param name="LeaseToken">The fencing token every later write must present.</param>
/// <param name="Attempt">The attempt number (1 on the first claim).</param>
/// <param name="ExpiresAt">When the lease runs out unless renewed.</param>
/// <param name="Objects">The batch's pending objects (ids and keys).</param>
/// <param name="TraceParent">The W3C traceparent of the shard's claim span, if traced.</param>
public sealed record BatchGranted(
    Guid JobId, string Label, long BatchId, Guid LeaseToken, int Attempt, DateTimeOffset ExpiresAt, IReadOnlyList<BatchObject> Objects, string? TraceParent)
    : IEngineMessage;

/// <summary>A shard's answer: nothing of this class can be claimed now.</summary>
public sealed record NoBatch(Guid JobId, string Label) : IEngineMessage;

/// <summary>A worker node asks the job coordinator which classes have work.</summary>
public sealed record GetOpenClasses : IEngineMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetOpenClasses Instance = new();
}

/// <summary>One class with batches waiting.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Label">The class.</param>
/// <param name="PendingBatches">Its batches waiting for a worker.</param>
/// <param name="TraceParent">The job's W3C traceparent, which workers' requests carry on so a job stays one trace.</param>
public sealed record OpenClass(Guid JobId, string Label, long PendingBatches, string? TraceParent);

/// <summary>The job coordinator's answer: every class with batches waiting, as of its last pass.</summary>
public sealed record OpenClasses(IReadOnlyList<OpenClass> Classes) : IEngineMessage
{
    /// <summary>No work anywhere.</summary>
    public static readonly OpenClasses None = new([]);
}

/// <summary>Tells the job coordinator a batch finished, so it looks for finished jobs without waiting for its next pass.</summary>
public sealed record BatchFinished(Guid JobId) : IEngineMessage;
