using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class WorkerShutdownTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Worker_Sigterm_FinishesBatchInHandStopsClaimingExitsZero()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 5);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(250));
        job.StartCoordinator("coordinator");
        ChildProcess worker = job.StartWorker("worker", slow.Endpoint, concurrency: 1);
        await Poll.UntilAsync(() => slow.RequestCount >= 3, TimeSpan.FromSeconds(120), "the worker to start its first batch", job.Diagnostics);

        // Frozen while the status is read and the signal sent (it is delivered on SIGCONT): the batch cannot end in between.
        Assert.True(worker.Signal(UnixSignal.Stop));
        JobStatus before = await job.StatusAsync();
        Assert.True(worker.Signal(UnixSignal.Terminate));
        Assert.True(worker.Signal(UnixSignal.Continue));
        int code = await worker.WaitForExitAsync(TimeSpan.FromSeconds(30));

        JobStatus after = await job.StatusAsync();
        Output.WriteLine($"SIGTERM mid-batch; exit {code}; {StatusCommand.Summarise(after).Done} done, {slow.RequestCount} S3 requests in all");
        Assert.Equal(0, code);
        Assert.Equal((0L, 1), (StatusCommand.Summarise(before).Done, before.Classes.Sum(c => c.LeasedBatches)));
        Assert.Equal(5, StatusCommand.Summarise(after).Done); // The batch in hand was finished and completed...
        Assert.Equal((1, 0, 19), (after.Classes.Sum(c => c.DoneBatches), after.Classes.Sum(c => c.LeasedBatches), after.Classes.Sum(c => c.PendingBatches)));
        Assert.Equal(10, slow.RequestCount); // ...and nothing more was claimed: 5 GETs and 5 PUTs in all.
        Assert.Equal(0, StatusCommand.Summarise(after).Retries);
        Assert.Contains(worker.Output, line => line.Contains("no more work taken", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Worker_SecondSigterm_GivesBatchBackAtOnceWithoutCountingTheAttempt()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 5);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromSeconds(6)); // A batch would take 60 s; the next request would come 12 s after the first.
        job.StartCoordinator("coordinator");
        ChildProcess worker = job.StartWorker("worker", slow.Endpoint, concurrency: 1);
        await Poll.UntilAsync(() => slow.RequestCount >= 1, TimeSpan.FromSeconds(120), "the worker to start its first batch", job.Diagnostics);

        Assert.True(worker.Signal(UnixSignal.Terminate));
        await Poll.UntilAsync(() => string.Join("\n", worker.Output).Contains("no more work taken", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the first signal to land", worker.Describe);
        Assert.True(worker.Signal(UnixSignal.Terminate));
        int code = await worker.WaitForExitAsync(TimeSpan.FromSeconds(20));

        JobStatus after = await job.StatusAsync();
        Output.WriteLine($"second SIGTERM; exit {code}; {after.Classes.Sum(c => c.PendingBatches)} batches pending, retries {StatusCommand.Summarise(after).Retries}");
        Assert.Equal(0, code);
        Assert.Equal(0, StatusCommand.Summarise(after).Done);
        Assert.Equal((0, 20), (after.Classes.Sum(c => c.LeasedBatches), after.Classes.Sum(c => c.PendingBatches)));
        Assert.Equal(0, StatusCommand.Summarise(after).Retries); // A voluntary release does not count towards dead-lettering.
        Assert.True(slow.RequestCount <= 2, $"{slow.RequestCount} requests: the worker went on after the second signal");
    }
}
