using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class WorkerCrashTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Worker_KilledMidBatch_BatchRescuedAndFinishedByAnother()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(300));
        job.StartCoordinator("coordinator");
        ChildProcess victim = job.StartWorker("victim", slow.Endpoint, concurrency: 1);

        // GET+PUT per object, one at a time: the 7th request means three objects of its first batch are written.
        await Poll.UntilAsync(() => slow.RequestCount >= 7, TimeSpan.FromSeconds(120), "the victim to write three objects", job.Diagnostics);
        await victim.KillAsync();
        JobStatus killed = await job.StatusAsync();
        int written = (await Fixture.ListKeysAsync(job.Bucket, "protected/")).Count;

        Assert.Equal(0, StatusCommand.Summarise(killed).Done);
        ClassStatus held = Assert.Single(killed.Classes, c => c.LeasedBatches == 1);
        Assert.InRange(written, 3, 9); // Mid-batch: some outputs are there, the batch is not completed.

        job.StartWorker("rescuer", concurrency: 4);
        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(60));

        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Output.WriteLine($"killed mid-batch of class {held.Label}: {written} outputs written, batch not completed; afterwards retries {totals.Retries}");
        Assert.Equal((100L, 0L, 0L), (totals.Done, totals.Failed, totals.Dead));
        Assert.Equal(1, totals.Retries);
        Assert.Equal(held.Label, Assert.Single(status.Classes, c => c.Retries > 0).Label);
        Assert.All(status.Classes, c => Assert.Equal((1, 0), (c.DoneBatches, c.LeasedBatches + c.PendingBatches + c.DeadBatches)));
        Assert.Empty(status.DeadLetters);
        await job.AssertOutputsAsync();
        Assert.Single(await job.ManifestKeysAsync());
    }
}
