using Akka.Actor;
using Akka.TestKit;
using PosCuda.Engine.Actors;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Processing;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>A worker slot against a real (SQLite) ledger, its node and the class shards played by probes.</summary>
public sealed class BatchWorkerTests(ITestOutputHelper output) : LedgerTestKit(nameof(BatchWorkerTests), output), IAsyncLifetime
{
    private const string SlotId = "w/slot-1";
    private Guid _job;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _job = await CreateJobAsync(("b", 2));
    }

    [Fact]
    public async Task DrainWhileAnAskIsOut_ReportsDrainedOnlyAfterTheGrantIsGivenBackUncounted()
    {
        // Scale-in raced a worker's ask: it reported drained at once, the node left, and the grant that was on its way
        // became a batch of a lost worker, given back by the shard and counted as a retry.
        await using var stores = new ObjectStoreCache(new ObjectStoreOptions());
        (IActorRef slot, TestProbe node, TestProbe shards, RequestBatch ask) = await StartAskingSlotAsync(stores);

        slot.Tell(Drain.Instance, node.Ref);

        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500)); // Not drained while the ask is unanswered.
        BatchLease lease = (await Ledger.ClaimClassBatchAsync(ask.WorkerId, TimeSpan.FromMinutes(10), _job, "b", CancellationToken.None))!;
        slot.Tell(new BatchGranted(_job, "b", lease.BatchId, lease.LeaseToken, lease.Attempt, lease.ExpiresAt, lease.Objects, null), shards.Ref);
        BatchReturned returned = await shards.ExpectMsgAsync<BatchReturned>(TimeSpan.FromSeconds(10));
        await node.ExpectMsgAsync<Drained>(TimeSpan.FromSeconds(10));

        Assert.Equal((SlotId, lease.BatchId), (ask.WorkerId, returned.BatchId));
        ClassStatus status = Assert.Single((await Ledger.GetJobStatusAsync(_job, CancellationToken.None))!.Classes);
        Assert.Equal((1, 0), (status.PendingBatches, status.LeasedBatches));
        Assert.Equal(1, (await Ledger.ClaimClassBatchAsync("next", TimeSpan.FromMinutes(1), _job, "b", CancellationToken.None))!.Attempt); // Uncounted.
    }

    [Fact]
    public async Task DrainWhileAnAskIsOut_NoBatchAnswer_ReportsDrained()
    {
        await using var stores = new ObjectStoreCache(new ObjectStoreOptions());
        (IActorRef slot, TestProbe node, TestProbe shards, RequestBatch _) = await StartAskingSlotAsync(stores);

        slot.Tell(Drain.Instance, node.Ref);
        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));
        slot.Tell(new NoBatch(_job, "b"), shards.Ref);

        await node.ExpectMsgAsync<ClassEmpty>(TimeSpan.FromSeconds(10));
        await node.ExpectMsgAsync<Drained>(TimeSpan.FromSeconds(10));
    }

    // A slot of node probe Node, with the class shards played by probe Shards, that has asked for a batch of class "b".
    private async Task<(IActorRef Slot, TestProbe Node, TestProbe Shards, RequestBatch Ask)> StartAskingSlotAsync(ObjectStoreCache stores)
    {
        TestProbe node = CreateTestProbe();
        TestProbe shards = CreateTestProbe();
        var runner = new BatchRunner(Ledger, new BatchProcessor(Keyring.Create(), stores));
        IActorRef slot = node.ChildActorOf(BatchWorker.Props(
            new WorkerSettings("w", slots: 1, concurrency: 1), SlotId, runner, new JobDefinitions(Ledger), CreateTestProbe().Ref, shards.Ref));
        await node.ExpectMsgAsync<WhereToWork>(TimeSpan.FromSeconds(10));
        node.Reply(new WorkTarget(_job, "b", null));
        return (slot, node, shards, await shards.ExpectMsgAsync<RequestBatch>(TimeSpan.FromSeconds(10)));
    }
}
