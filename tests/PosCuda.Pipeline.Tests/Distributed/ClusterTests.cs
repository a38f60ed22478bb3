using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>The Akka.NET cluster as real processes on loopback: two coordinator nodes, three worker nodes, PostgreSQL and moto.</summary>
[Collection(PostgresServer.CollectionName)]
public sealed partial class ClusterTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    [Fact]
    public async Task Cluster_WorkerKilledThenAnotherSigtermed_BatchesReassignedWellBeforeTheLeaseAndEveryObjectDoneOnce()
    {
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, copies: 3, batchSize: 10);
        // The store is held back (500 ms a request) until every worker is up, so the first to join cannot finish the job alone
        // (on a quiet machine two workers did it before the third joined); then 30 ms a request: a batch lasts a few hundred ms.
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(500));
        job.WorkerLeaseSeconds = "60"; // Long: a dead worker's batches must come back through the cluster, not by the lease running out.
        ChildProcess[] coordinators = [job.StartCoordinator("coordinator-1"), job.StartCoordinator("coordinator-2")];
        ChildProcess[] workers = [job.StartWorker("worker-1", slow.Endpoint), job.StartWorker("worker-2", slow.Endpoint), job.StartWorker("worker-3", slow.Endpoint)];
        foreach (ChildProcess worker in workers)
        {
            await worker.WaitForOutputAsync(line => line.Contains(" is up at ", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        }

        slow.Delay = TimeSpan.FromMilliseconds(30);
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 60 && s.Classes.Sum(c => c.LeasedBatches) == 3, TimeSpan.FromSeconds(120), "all three workers to hold a batch");

        await job.KillHoldingLeaseAsync(workers[0], "worker-1");
        var clock = Stopwatch.StartNew();
        Match reassigned = await Poll.UntilAsync(
            () => Task.FromResult(coordinators.Select(c => ReassignedLine().Match(string.Join("\n", c.Output))).FirstOrDefault(m => m.Success) ?? Match.Empty),
            m => m.Success, TimeSpan.FromSeconds(60), "a class shard to reassign the killed worker's batch", job.Diagnostics);
        TimeSpan afterKill = clock.Elapsed;
        Output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"reassigned {reassigned.Groups["n"].Value} batches in {afterKill.TotalSeconds:F1} s after the kill (shard's own give-back {reassigned.Groups["s"].Value} s; lease 60 s)"));
        Assert.Contains("worker-1/slot-1", reassigned.Value, StringComparison.Ordinal);
        Assert.Equal("1", reassigned.Groups["n"].Value);
        Assert.True(afterKill < TimeSpan.FromSeconds(30), $"reassignment took {afterKill}, not well below the 60 s lease");

        Assert.True(workers[1].Signal(UnixSignal.Terminate));
        Assert.Equal(0, await workers[1].WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(workers[1].Output, line => line.Contains("no more work taken", StringComparison.Ordinal));

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(180));
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Assert.Equal((300L, 300L, 0L, 0L), (totals.Objects, totals.Done, totals.Failed, totals.Dead));
        Assert.Equal(1, totals.Retries); // The killed worker's batch, counted once (by the shard's give-back, not again by a lease expiry).
        IReadOnlyList<ObjectRecord> objects = await job.ReadObjectsAsync();
        Assert.Equal(300, objects.Select(o => o.Key).Distinct(StringComparer.Ordinal).Count());
        Assert.All(objects, o => Assert.Equal((ObjectOutcome.Done, Fixture.Keyring.Active), (o.Outcome, o.KeyVersion ?? 0)));
        await job.AssertOutputsAsync();
        Assert.False(workers[2].HasExited, workers[2].Describe());
    }

    [GeneratedRegex(@"Reassigned (?<n>\d+) batch\(es\) of class \S+ from lost worker (?<w>\S+) in (?<s>[0-9.]+) s")]
    private static partial Regex ReassignedLine();
}
