using System.Text.Json.Serialization;

namespace PosCuda.Engine.Protocol;

/// <summary>Source-generated JSON for every engine message (no reflection, no type names on the wire).</summary>
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(RequestBatch))]
[JsonSerializable(typeof(StillHolding))]
[JsonSerializable(typeof(BatchReturned))]
[JsonSerializable(typeof(KeepAlive))]
[JsonSerializable(typeof(StopShard))]
[JsonSerializable(typeof(BatchGranted))]
[JsonSerializable(typeof(NoBatch))]
[JsonSerializable(typeof(GetOpenClasses))]
[JsonSerializable(typeof(OpenClasses))]
[JsonSerializable(typeof(BatchFinished))]
internal sealed partial class EngineJsonContext : JsonSerializerContext;
