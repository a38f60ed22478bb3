using System.Diagnostics;
using PosCuda.Coordinator.Cli;
using PosCuda.Coordinator.Maintenance;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class CoordinatorFailoverTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task SingletonNode_Killed_OtherCoordinatorNodeTakesOverAndJobCompletes()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(25));
        ChildProcess first = job.StartCoordinator("coordinator-1");
        await Poll.UntilAsync(() => string.Join("\n", first.Output).Contains(SingletonStarted, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the singleton to start on the first node", first.Describe);
        ChildProcess second = job.StartCoordinator("coordinator-2");
        ChildProcess worker = job.StartWorker("worker", slow.Endpoint, concurrency: 2);
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 20, TimeSpan.FromSeconds(60), "the worker to make progress");
        Assert.DoesNotContain(second.Output, line => line.Contains(SingletonStarted, StringComparison.Ordinal)); // One job coordinator in the cluster.

        await first.KillAsync();
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(() => string.Join("\n", second.Output).Contains(SingletonStarted, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the second node to take over", second.Describe);
        TimeSpan takeover = clock.Elapsed;
        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(90));

        Output.WriteLine($"singleton node SIGKILLed; the other coordinator node took over in {takeover.TotalSeconds:F1} s; job completed");
        Assert.False(worker.HasExited, worker.Describe());
        Assert.Equal(100, StatusCommand.Summarise(status).Done);
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
        using System.Text.Json.JsonDocument manifest = await job.ReadManifestAsync();
        Assert.Equal("completed", manifest.RootElement.GetProperty("state").GetString());
        Assert.Equal(100, manifest.RootElement.GetProperty("totals").GetProperty("protected").GetInt64());
        await job.AssertOutputsAsync();
    }

    [Fact]
    public async Task Finisher_StoppedWhileWritingManifest_JobStaysRunningUntilTheNextPassWritesIt()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using IWorkLedger ledger = WorkLedger.Open(job.LedgerLocation);
        await CompleteAllBatchesAsync(ledger, job.JobId);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromSeconds(60)); // The manifest PUT is held until the stop lands.
        await using var slowStores = new ObjectStoreCache(new ObjectStoreOptions(slow.Endpoint.ToString()));
        var stopped = new ManifestJobFinisher(ledger, slowStores);

        // The stop lands while the manifest is on its way: the manifest is written before the job is completed, so the
        // job must still be running, for the next pass to finish.
        using var stop = new CancellationTokenSource();
        Task run = stopped.FinishAsync(job.JobId, stop.Token);
        await Poll.UntilAsync(() => slow.RequestCount >= 1, TimeSpan.FromSeconds(30), "the manifest PUT to start");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(JobState.Running, (await job.StatusAsync()).Job.State);

        await using var stores = new ObjectStoreCache(Fixture.Moto.Options);
        int completed = 0;
        var next = new ManifestJobFinisher(ledger, stores);
        next.JobCompleted += _ => completed++;
        await next.FinishAsync(job.JobId, CancellationToken.None);
        await next.FinishAsync(job.JobId, CancellationToken.None); // Again (a second pass): idempotent, no second completion.

        Assert.Equal(1, completed);
        Assert.Equal(JobState.Completed, (await job.StatusAsync()).Job.State);
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
    }

    private const string SingletonStarted = "Job coordinator started on this node";

    // Marks every batch done without touching the store (the manifest is what this test is about).
    private static async Task CompleteAllBatchesAsync(IWorkLedger ledger, Guid jobId)
    {
        while (await ledger.ClaimBatchAsync("test", TimeSpan.FromMinutes(1), jobId, CancellationToken.None) is BatchLease lease)
        {
            await ledger.CompleteBatchAsync(
                lease,
                lease.Objects.Select(o => new ObjectResult(o.ObjectId, ObjectOutcome.Done, null, lease.Job.KeyVersion, o.SourceETag, "etag", o.Size, 0)).ToList(),
                CancellationToken.None);
        }
    }
}
