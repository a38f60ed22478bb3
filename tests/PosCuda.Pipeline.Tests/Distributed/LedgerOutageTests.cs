using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class LedgerOutageTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task PostgresRestart_MidJob_WorkersReconnectAndFinishEveryObject()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, copies: 3, batchSize: 10);
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(40));
        ChildProcess coordinator = job.StartCoordinator("coordinator");
        ChildProcess[] workers = [job.StartWorker("worker-1", slow.Endpoint), job.StartWorker("worker-2", slow.Endpoint)];
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 40, TimeSpan.FromSeconds(120), "the workers to make progress");

        await Postgres.RestartAsync();
        JobStatus afterRestart = await Poll.UntilAsync(job.StatusAsync, static _ => true, TimeSpan.FromSeconds(30), "the ledger to answer again");
        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(90));
        Output.WriteLine($"restarted at >= 40/300 done; {StatusCommand.Summarise(afterRestart).Done}/300 done when it answered again; retries {StatusCommand.Summarise(status).Retries}");

        Assert.InRange(StatusCommand.Summarise(afterRestart).Done, 40, 299); // The server came back mid-job.
        Assert.All(workers.Append(coordinator), p => Assert.False(p.HasExited, p.Describe())); // Nobody crashed on the outage.
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal((300L, 300L, 0L, 0L), (totals.Objects, totals.Done, totals.Failed, totals.Dead));
        IReadOnlyList<ObjectRecord> records = await job.ReadObjectsAsync();
        Assert.Equal(300, records.Count);
        Assert.All(records, r => Assert.Equal(ObjectOutcome.Done, r.Outcome));
        Assert.Equal(300, (await Fixture.ListKeysAsync(job.Bucket, "protected/")).Count(k => k.EndsWith(".wav", StringComparison.Ordinal)));
        Assert.Equal([$"{job.JobId:D}.json"], await job.ManifestKeysAsync());
    }
}
