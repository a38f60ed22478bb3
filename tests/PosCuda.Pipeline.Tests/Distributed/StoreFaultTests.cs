using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

[Collection(PostgresServer.CollectionName)]
public sealed class StoreFaultTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Workers_TransientS3Failures_RetryAndCompleteWithCorrectOutputs()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, batchSize: 10);
        await using var flaky = new FaultInjectingProxy(Fixture.Moto.Endpoint);
        flaky.FailEvery(5, ProxyFault.SlowDown);
        job.StartCoordinator("coordinator");
        job.StartWorker("worker-1", flaky.Endpoint);
        job.StartWorker("worker-2", flaky.Endpoint);
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 40, TimeSpan.FromSeconds(60), "the workers to get through the 503s");
        int slowDowns = flaky.FaultCount;
        flaky.FailEvery(4, ProxyFault.InternalError);

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(60));

        Output.WriteLine($"{flaky.RequestCount} requests through the proxy: {slowDowns} answered 503, {flaky.FaultCount - slowDowns} answered 500; batch retries {StatusCommand.Summarise(status).Retries}");
        Assert.True(slowDowns > 0, "no 503 SlowDown was answered");
        Assert.True(flaky.FaultCount > slowDowns, "no 500 InternalError was answered");
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal((100L, 0L, 0L), (totals.Done, totals.Failed, totals.Dead));
        Assert.Empty(status.DeadLetters);
        await job.AssertOutputsAsync();
        await job.AssertMetadataAsync();
    }
}
