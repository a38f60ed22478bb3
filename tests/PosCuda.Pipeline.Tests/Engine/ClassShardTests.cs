using Akka.Actor;
using PosCuda.Engine.Actors;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>The class shard entity against a real (SQLite) ledger, every message serialised.</summary>
public sealed class ClassShardTests(ITestOutputHelper output) : LedgerTestKit(nameof(ClassShardTests), output), IAsyncLifetime
{
    private Guid _job;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _job = await CreateJobAsync(("a", 6), ("b", 2)); // Class "a": three batches of two objects; class "b": one batch.
    }

    [Fact]
    public async Task Request_LeasesBatchesOfItsClassOnlyThenSaysNoBatch()
    {
        IActorRef shard = Sys.ActorOf(ClassShard.Props(ClassShardIds.EntityId(_job, "a"), Ledger));
        var granted = new List<BatchGranted>();
        for (int i = 0; i < 3; i++)
        {
            shard.Tell(new RequestBatch(_job, "a", $"w{i}", 60, null), TestActor);
            granted.Add(await ExpectMsgAsync<BatchGranted>(TimeSpan.FromSeconds(10)));
        }

        shard.Tell(new RequestBatch(_job, "a", "w9", 60, null), TestActor);
        await ExpectMsgAsync<NoBatch>(m => m.Label == "a", TimeSpan.FromSeconds(10));

        Assert.All(granted, g => Assert.Equal(("a", 2, 1), (g.Label, g.Objects.Count, g.Attempt)));
        Assert.Equal(6, granted.SelectMany(g => g.Objects).Select(o => o.Key).Distinct(StringComparer.Ordinal).Count());
        Assert.All(granted.SelectMany(g => g.Objects), o => Assert.StartsWith("a/", o.Key, StringComparison.Ordinal));
        ClassStatus b = Assert.Single((await Ledger.GetJobStatusAsync(_job, CancellationToken.None))!.Classes, c => c.Label == "b");
        Assert.Equal(1, b.PendingBatches); // Untouched by the shard of "a".
    }

    [Fact]
    public async Task RequestWithMergeUpTo_GrantsOneLeaseOverSeveralPlannedBatches()
    {
        IActorRef shard = Sys.ActorOf(ClassShard.Props(ClassShardIds.EntityId(_job, "a"), Ledger));

        shard.Tell(new RequestBatch(_job, "a", "gpu/slot-0", 60, null, MergeUpTo: 4), TestActor);
        BatchGranted merged = await ExpectMsgAsync<BatchGranted>(TimeSpan.FromSeconds(10));
        shard.Tell(new RequestBatch(_job, "a", "gpu/slot-0", 60, null, MergeUpTo: 4), TestActor);
        BatchGranted last = await ExpectMsgAsync<BatchGranted>(TimeSpan.FromSeconds(10));

        Assert.Equal((4, 2), (merged.Objects.Count, last.Objects.Count)); // 2+2 merged; the third batch alone is what is left
        Assert.Equal(6, merged.Objects.Concat(last.Objects).Select(o => o.Key).Distinct(StringComparer.Ordinal).Count());
        ClassStatus a = Assert.Single((await Ledger.GetJobStatusAsync(_job, CancellationToken.None))!.Classes, c => c.Label == "a");
        Assert.Equal((2, 0), (a.LeasedBatches, a.PendingBatches));
    }

    [Fact]
    public async Task WorkerThatDies_ItsBatchIsGivenBackAtOnceAndCounted()
    {
        IActorRef shard = Sys.ActorOf(ClassShard.Props(ClassShardIds.EntityId(_job, "b"), Ledger));
        var worker = CreateTestProbe();
        shard.Tell(new RequestBatch(_job, "b", "doomed", 3600, null), worker.Ref);
        BatchGranted grant = await worker.ExpectMsgAsync<BatchGranted>(TimeSpan.FromSeconds(10));

        Sys.Stop(worker.Ref);

        ClassStatus status = await AwaitStatusAsync("b", c => c.PendingBatches == 1);
        Assert.Equal(0, status.LeasedBatches); // Back long before its one-hour lease would run out...
        Assert.Equal(2, (await Ledger.ClaimClassBatchAsync("next", TimeSpan.FromMinutes(1), _job, "b", CancellationToken.None))!.Attempt); // ...and counted.
        var lease = new BatchLease(_job, new JobDefinition("src", "dst", "regex:x", new ProtectionParameters(), "key", 1), grant.BatchId, "b", grant.LeaseToken, 1, default, []);
        await Assert.ThrowsAsync<LeaseLostException>(() => Ledger.CompleteBatchAsync(lease, [], CancellationToken.None)); // The dead worker's token is stale.
    }

    [Fact]
    public async Task RestartedShard_LearnsHoldersFromRenewalsAndStillGivesBackTheirBatches()
    {
        IActorRef first = Sys.ActorOf(ClassShard.Props(ClassShardIds.EntityId(_job, "b"), Ledger));
        var worker = CreateTestProbe();
        first.Tell(new RequestBatch(_job, "b", "w", 3600, null), worker.Ref);
        BatchGranted grant = await worker.ExpectMsgAsync<BatchGranted>(TimeSpan.FromSeconds(10));
        await WatchAndStopAsync(first); // The coordinator node holding the shard went away; the worker holds on.

        IActorRef second = Sys.ActorOf(ClassShard.Props(ClassShardIds.EntityId(_job, "b"), Ledger));
        second.Tell(new StillHolding(_job, "b", grant.BatchId, grant.LeaseToken, grant.Attempt, "w"), worker.Ref);
        second.Tell(new KeepAlive(_job, "b"), TestActor); // A message after the renewal: the renewal has been handled.
        Sys.Stop(worker.Ref);

        await AwaitStatusAsync("b", c => c.PendingBatches == 1);
        Assert.Equal(2, (await Ledger.ClaimClassBatchAsync("next", TimeSpan.FromMinutes(1), _job, "b", CancellationToken.None))!.Attempt);
    }

    private async Task<ClassStatus> AwaitStatusAsync(string label, Func<ClassStatus, bool> done)
    {
        ClassStatus? last = null;
        await AwaitAssertAsync(
            async () =>
            {
                last = Assert.Single((await Ledger.GetJobStatusAsync(_job, CancellationToken.None))!.Classes, c => c.Label == label);
                Assert.True(done(last), $"class {label}: {last}");
            },
            TimeSpan.FromSeconds(15),
            TimeSpan.FromMilliseconds(100));
        return last!;
    }

    private async Task WatchAndStopAsync(IActorRef actor)
    {
        Watch(actor);
        Sys.Stop(actor);
        await ExpectTerminatedAsync(actor, TimeSpan.FromSeconds(10));
    }
}
