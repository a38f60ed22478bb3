using System.Diagnostics;
using PosCuda.Coordinator.Cli;
using PosCuda.Coordinator.Maintenance;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class CoordinatorFailoverTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Coordinator_KilledAndRestarted_JobCompletesWithManifest()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(25));
        ChildProcess first = job.StartCoordinator("coordinator-1");
        ChildProcess worker = job.StartWorker("worker", slow.Endpoint, concurrency: 2);
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 20, TimeSpan.FromSeconds(30), "the worker to make progress");

        await first.KillAsync();

        // The worker finishes every batch, but with no coordinator nobody completes the job.
        JobStatus drained = await job.WaitForAsync(s => StatusCommand.Summarise(s).Done == 100, TimeSpan.FromSeconds(60), "every object to be done");
        Assert.Equal(JobState.Running, drained.Job.State);
        Assert.Empty(await job.ManifestKeysAsync());

        // A restarted coordinator (a new holder) takes over once the dead one's leader lease runs out.
        job.StartCoordinator("coordinator-2");
        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(30));

        Assert.False(worker.HasExited, worker.Describe());
        Assert.Equal(100, StatusCommand.Summarise(status).Done);
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
        using System.Text.Json.JsonDocument manifest = await job.ReadManifestAsync();
        Assert.Equal("completed", manifest.RootElement.GetProperty("state").GetString());
        Assert.Equal(100, manifest.RootElement.GetProperty("totals").GetProperty("protected").GetInt64());
    }

    [Fact]
    public async Task Coordinator_StoppedWhileWritingManifest_JobStaysRunningUntilTheNextPassWritesIt()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        ChildProcess worker = job.StartWorker("worker", null, 4, "--exit-when-idle");
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromSeconds(3)); // The manifest PUT takes 3 s.
        await using IWorkLedger ledger = WorkLedger.Open(job.LedgerLocation);
        await using var slowStores = new ObjectStoreCache(new ObjectStoreOptions(slow.Endpoint.ToString()));
        var stopped = new CoordinatorLoop(ledger, slowStores, "coordinator-1", TimeSpan.FromMilliseconds(500));

        // The stop lands while the manifest is on its way: the manifest is written before the job is completed, so the
        // job must still be running, for the next pass to finish.
        using var stop = new CancellationTokenSource();
        Task run = stopped.RunAsync(stop.Token);
        await Poll.UntilAsync(() => slow.RequestCount >= 1, TimeSpan.FromSeconds(30), "the manifest PUT to start");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Running, (await job.StatusAsync()).Job.State);

        await using var stores = new ObjectStoreCache(Fixture.Moto.Options);
        var next = new CoordinatorLoop(ledger, stores, "coordinator-1", TimeSpan.FromMilliseconds(500));
        Assert.True(await next.RunOnceAsync(CancellationToken.None));

        Assert.Equal(JobState.Completed, (await job.StatusAsync()).Job.State);
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
    }

    [Fact]
    public async Task Coordinators_TwoOnOneLedger_ExactlyOneActsAndOneManifest()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using IWorkLedger ledgerA = WorkLedger.Open(job.LedgerLocation);
        await using IWorkLedger ledgerB = WorkLedger.Open(job.LedgerLocation);
        await using var stores = new ObjectStoreCache(Fixture.Moto.Options);
        var a = new CoordinatorLoop(ledgerA, stores, "coordinator-a", TimeSpan.FromMilliseconds(200));
        var b = new CoordinatorLoop(ledgerB, stores, "coordinator-b", TimeSpan.FromMilliseconds(200));
        int completedByA = 0;
        int completedByB = 0;
        a.JobCompleted += _ => Interlocked.Increment(ref completedByA);
        b.JobCompleted += _ => Interlocked.Increment(ref completedByB);

        var passes = new List<(bool A, bool B)>();
        for (int i = 0; i < 3; i++)
        {
            passes.Add((await a.RunOnceAsync(CancellationToken.None), await b.RunOnceAsync(CancellationToken.None)));
        }

        using var stop = new CancellationTokenSource();
        Task runA = a.RunAsync(stop.Token);
        Task runB = b.RunAsync(stop.Token);
        ChildProcess worker = job.StartWorker("worker", null, 4, "--exit-when-idle");
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await job.WaitCompletedAsync(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => Volatile.Read(ref completedByA) + Volatile.Read(ref completedByB) > 0, TimeSpan.FromSeconds(10), "JobCompleted");
        // Counted from A's stop (A's lease dates from its last pass, at most one interval earlier), not from after
        // the checks below, which may themselves take a while on a slow machine.
        var clock = Stopwatch.StartNew();
        await stop.CancelAsync();
        await Task.WhenAll(runA, runB);

        Assert.All(passes, p => Assert.Equal((true, false), p));
        Assert.Equal((1, 0), (completedByA, completedByB));
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());

        // With A gone, B acts once A's leader lease (5 s) has run out; then A stands by.
        await Poll.UntilAsync(() => b.RunOnceAsync(CancellationToken.None), static leader => leader, TimeSpan.FromSeconds(20), "B to take over");
        Output.WriteLine($"passes (A, B): {string.Join(", ", passes)}; B took over {clock.Elapsed.TotalSeconds:F1} s after A stopped");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(40));
        Assert.False(await a.RunOnceAsync(CancellationToken.None));
        Assert.Equal((1, 0), (completedByA, completedByB));
    }
}
