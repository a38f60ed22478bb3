using System.Globalization;
using Akka.Cluster.Sharding;
using PosCuda.Engine.Protocol;

namespace PosCuda.Engine.Actors;

/// <summary>How (job, class) maps to sharding's entity and shard ids: entity <c>{job}/{class}</c>, shard a stable hash of it.</summary>
/// <remarks>Never change the shard count or this mapping while a cluster runs: nodes would disagree on where an entity lives.</remarks>
public sealed class ClassShardIds : IMessageExtractor
{
    /// <summary>Shards per cluster: ten times the coordinator nodes one would ever run.</summary>
    public const int ShardCount = 100;

    /// <summary>The entity id of a (job, class).</summary>
    public static string EntityId(Guid jobId, string label) => jobId.ToString("D") + "/" + label;

    /// <summary>Splits an entity id into (job, class); the class may itself hold '/'.</summary>
    public static (Guid JobId, string Label) Parse(string entityId)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        int slash = entityId.IndexOf('/', StringComparison.Ordinal);
        return slash == 36 && Guid.TryParseExact(entityId.AsSpan(0, 36), "D", out Guid job)
            ? (job, entityId[(slash + 1)..])
            : throw new ArgumentException($"'{entityId}' is not a class entity id ({{job}}/{{class}}).", nameof(entityId));
    }

    /// <summary>The shard of an entity: FNV-1a over its UTF-16 code units (stable across processes, unlike string.GetHashCode).</summary>
    public static string ShardOf(string entityId)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        uint hash = 2166136261;
        foreach (char c in entityId)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (hash % ShardCount).ToString(CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public string? EntityId(object message) => message is IClassMessage m ? EntityId(m.JobId, m.Label) : null;

    /// <inheritdoc />
    public object? EntityMessage(object message) => message;

    /// <inheritdoc />
    public string? ShardId(object message) => EntityId(message) is { } id ? ShardOf(id) : null;

    /// <inheritdoc />
    public string ShardId(string entityId, object? messageHint = null) => ShardOf(entityId);
}
