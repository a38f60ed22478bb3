using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;

namespace PosCuda.Engine.Actors;

/// <summary>
/// Places class shards as <paramref name="placement"/> does (the region with the fewest shards), and never moves a shard
/// between live coordinator nodes: a shard moves only when its node leaves or is downed.
/// </summary>
/// <remarks>
/// A move restarts the entity, which forgets which worker holds which batch until each holder's next renewal; a worker lost
/// in that window has its batch come back only when the lease runs out, not at once. Class shards are light (a ledger claim
/// and a watch per batch), so evening out their count between coordinator nodes buys nothing worth that window: shards
/// allocated while the second coordinator node was still registering were moved over one by one, every 10 s, for minutes
/// after a cluster formed (measured in <c>PartitionTests</c>, whose cut-off worker's batch then waited out its lease).
/// </remarks>
public sealed class StayPutAllocationStrategy(IShardAllocationStrategy placement)
    : IActorSystemDependentAllocationStrategy
{
    private static readonly Task<IImmutableSet<string>> s_none = Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);
    private readonly IShardAllocationStrategy _placement = placement ?? throw new ArgumentNullException(nameof(placement));

    /// <inheritdoc />
    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations) =>
        _placement.AllocateShard(requester, shardId, currentShardAllocations);

    /// <inheritdoc />
    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress) =>
        s_none;

    /// <summary>Starts the placement the way the shard coordinator would have (Akka's least-shard strategy needs the system to
    /// see the cluster's members). The coordinator starts a strategy through one interface only, so this implements just the one.</summary>
    public void Start(ActorSystem system)
    {
        switch (_placement)
        {
            case IStartableAllocationStrategy startable:
                startable.Start();
                break;
            case IActorSystemDependentAllocationStrategy dependent:
                dependent.Start(system);
                break;
        }
    }
}
