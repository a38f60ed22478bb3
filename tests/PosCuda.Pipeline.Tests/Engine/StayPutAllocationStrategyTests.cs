using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.TestKit.Xunit2;
using PosCuda.Engine.Actors;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>Class shards are placed where the placement says and never moved between live regions.</summary>
public sealed class StayPutAllocationStrategyTests : TestKit
{
    [Fact]
    public async Task AllShardsOnOneRegion_ThePlacementWouldMoveSomeThisStrategyMovesNone()
    {
        IActorRef first = CreateTestProbe().Ref;
        IActorRef second = CreateTestProbe().Ref; // Joined after the first had allocated every shard.
        IImmutableDictionary<IActorRef, IImmutableList<string>> allocations = ImmutableDictionary<IActorRef, IImmutableList<string>>.Empty
            .Add(first, ImmutableList.Create("0", "1", "2", "3"))
            .Add(second, ImmutableList<string>.Empty);
        var placement = new EvenOut();
        var strategy = new StayPutAllocationStrategy(placement);
        strategy.Start(Sys);

        IImmutableSet<string> movedByPlacement = await placement.Rebalance(allocations, ImmutableHashSet<string>.Empty);
        IImmutableSet<string> moved = await strategy.Rebalance(allocations, ImmutableHashSet<string>.Empty);
        IActorRef newShardGoesTo = await strategy.AllocateShard(first, "4", allocations);

        Assert.Equal(["0", "1"], movedByPlacement.Order(StringComparer.Ordinal));
        Assert.Empty(moved);
        Assert.Equal(second, newShardGoesTo); // Placement is the placement's.
        Assert.Same(Sys, placement.StartedWith); // Akka's least-shard strategy needs its Start(system) to see the cluster.
    }

    // Places on the region with the fewest shards and moves half the difference, as a least-shard strategy would.
    private sealed class EvenOut : IShardAllocationStrategy, IActorSystemDependentAllocationStrategy
    {
        public ActorSystem? StartedWith { get; private set; }

        public void Start(ActorSystem system) => StartedWith = system;

        public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations) =>
            Task.FromResult(currentShardAllocations.MinBy(p => p.Value.Count).Key);

        public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress)
        {
            IImmutableList<string> most = currentShardAllocations.MaxBy(p => p.Value.Count).Value;
            int fewest = currentShardAllocations.Min(p => p.Value.Count);
            return Task.FromResult<IImmutableSet<string>>(most.Take((most.Count - fewest) / 2).ToImmutableHashSet());
        }
    }
}
