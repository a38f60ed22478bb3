using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;

namespace PosCuda.Engine.Protocol;

/// <summary>Serialises <see cref="IEngineMessage"/>s as source-generated JSON with a short, stable manifest per message type.</summary>
/// <remarks>Bound in <see cref="Hosting.EngineConfig"/>; the manifests are part of the wire protocol: never rename one while a cluster runs.</remarks>
public sealed class EngineSerializer : SerializerWithStringManifest
{
    /// <summary>This serializer's id (unique in the actor system; Akka's own use ids below 100).</summary>
    public const int Id = 7301;

    private static readonly FrozenDictionary<string, JsonTypeInfo> s_byManifest = new Dictionary<string, JsonTypeInfo>
    {
        ["rb"] = EngineJsonContext.Default.RequestBatch,
        ["sh"] = EngineJsonContext.Default.StillHolding,
        ["br"] = EngineJsonContext.Default.BatchReturned,
        ["ka"] = EngineJsonContext.Default.KeepAlive,
        ["ss"] = EngineJsonContext.Default.StopShard,
        ["bg"] = EngineJsonContext.Default.BatchGranted,
        ["nb"] = EngineJsonContext.Default.NoBatch,
        ["go"] = EngineJsonContext.Default.GetOpenClasses,
        ["oc"] = EngineJsonContext.Default.OpenClasses,
        ["bf"] = EngineJsonContext.Default.BatchFinished,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<Type, string> s_byType = s_byManifest.ToFrozenDictionary(p => p.Value.Type, p => p.Key);

    /// <summary>Creates the serializer (Akka calls this).</summary>
    public EngineSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return s_byType.TryGetValue(o.GetType(), out string? manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType().Name} is not an engine message this serializer knows.", nameof(o));
    }

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return JsonSerializer.SerializeToUtf8Bytes(obj, s_byManifest[Manifest(obj)]);
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!s_byManifest.TryGetValue(manifest, out JsonTypeInfo? info))
        {
            throw new SerializationException($"Unknown engine message manifest '{manifest}' (a node of another version?).");
        }

        return JsonSerializer.Deserialize(bytes, info) ?? throw new SerializationException($"Empty engine message '{manifest}'.");
    }
}
