using Akka.Actor;

namespace PosCuda.Engine.Actors;

// Messages between a worker node and its slots, and from the shutdown hook: local only, never on the wire.

/// <summary>A slot asks its node which class to ask for work, preferring the one whose filter it holds.</summary>
internal sealed record WhereToWork(Guid? PreferredJob, string? PreferredLabel) : INoSerializationVerificationNeeded;

/// <summary>The node's answer: ask this class's shard.</summary>
internal sealed record WorkTarget(Guid JobId, string Label, string? TraceParent) : INoSerializationVerificationNeeded;

/// <summary>The node's answer: no class has work now; wait for <see cref="WorkAvailable"/>.</summary>
internal sealed record NoWorkTarget : INoSerializationVerificationNeeded
{
    public static readonly NoWorkTarget Instance = new();
}

/// <summary>The node learnt of classes with work.</summary>
internal sealed record WorkAvailable : INoSerializationVerificationNeeded
{
    public static readonly WorkAvailable Instance = new();
}

/// <summary>A slot found a class empty: the node stops pointing slots at it until the coordinator says otherwise.</summary>
internal sealed record ClassEmpty(Guid JobId, string Label) : INoSerializationVerificationNeeded;

/// <summary>Stop asking for work; finish the batches in hand. Answered with <see cref="Drained"/> once none is left.</summary>
public sealed record Drain : INoSerializationVerificationNeeded
{
    /// <summary>The one instance.</summary>
    public static readonly Drain Instance = new();
}

/// <summary>No batch is left in hand.</summary>
public sealed record Drained : INoSerializationVerificationNeeded
{
    /// <summary>The one instance.</summary>
    public static readonly Drained Instance = new();
}

/// <summary>Give every batch in hand back at once, unfinished (a second SIGTERM, or the drain's time ran out).</summary>
public sealed record GiveBack : INoSerializationVerificationNeeded
{
    /// <summary>The one instance.</summary>
    public static readonly GiveBack Instance = new();
}
