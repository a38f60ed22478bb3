using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Npgsql;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Ledger;
using PosCuda.Testing.Network;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>A real network partition: a worker node in its own network namespace, cut off from the cluster and the ledger mid-batch.</summary>
/// <remarks>
/// <para>The namespace is joined to this machine by two veth pairs. Over the cluster link it reaches the coordinator nodes (every other
/// node binds the link's host-side address, which stays reachable here while the link is down) and the ledger (through a relay to
/// PostgreSQL's loopback port). Over the storage link it reaches moto through a slow proxy listening on that link's host-side address. Only the cluster link is cut: the worker
/// keeps its object store, finishes its batch while partitioned and tries to record it, the zombie the lease fencing exists for.</para>
/// <para>Needs root and iproute2; skipped with the reason where namespaces cannot be created, except under <c>CI=true</c>, where it fails.</para>
/// </remarks>
[Collection(PostgresServer.CollectionName)]
public sealed partial class PartitionTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output)
{
    private const string CutOff = "cut-off";

    [SkippableFact]
    public async Task Partition_WorkerCutOffMidBatch_IsDownedItsBatchFinishedElsewhereAndItsLateCompletionRefused()
    {
        await using NetworkNamespace ns = await CreateNamespaceOrSkipAsync();
        VethLink clusterLink = await ns.AddLinkAsync();
        VethLink storageLink = await ns.AddLinkAsync();
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, copies: 3, batchSize: 10);
        job.ClusterHost = clusterLink.HostAddress.ToString();
        job.WorkerLeaseSeconds = "60"; // Long: the cut-off worker's batch must come back through the cluster downing it, not by its lease running out.
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(30));
        await using var slowInside = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(400), storageLink.HostAddress);
        await using var ledgerRelay = new TcpRelay(clusterLink.HostAddress, new IPEndPoint(IPAddress.Loopback, Postgres.Port));
        string ledgerInside = new NpgsqlConnectionStringBuilder(job.LedgerLocation)
        {
            Host = ledgerRelay.Endpoint.Address.ToString(),
            Port = ledgerRelay.Endpoint.Port,
        }.ConnectionString;

        // One at a time: the first forms the cluster and is the oldest (the singletons' home, SBR's keep-oldest reference).
        ChildProcess[] coordinators = [await StartCoordinatorAsync(job, "coordinator-1"), await StartCoordinatorAsync(job, "coordinator-2")];
        ChildProcess cutOff = job.StartWorkerAt(
            CutOff,
            new WorkerPlacement(clusterLink.NamespaceAddress.ToString(), ledgerInside, slowInside.Endpoint, ns.Exec),
            concurrency: 2,
            "--drain-seconds", "300"); // Once downed, it keeps trying to record its batch until the link is back.
        ChildProcess[] workers = [job.StartWorker("worker-1", slow.Endpoint), job.StartWorker("worker-2", slow.Endpoint)];

        // Mid-batch: its first GETs went out (a batch is 10 GETs and 10 PUTs at 0.4 s each, two at a time).
        await Poll.UntilAsync(() => slowInside.RequestCount >= 2, TimeSpan.FromSeconds(120), "the cut-off worker to start a batch", job.Diagnostics);
        await clusterLink.CutAsync();
        var clock = Stopwatch.StartNew();
        int requestsAtCut = slowInside.RequestCount;
        Assert.True(requestsAtCut < 20, $"the cut-off worker had sent {requestsAtCut} requests before the cut: not mid-batch");

        string reassigned = await FirstLineAsync(coordinators, l => ReassignedLine().Match(l) is { Success: true } m && m.Groups["w"].Value == CutOff + "/slot-1");
        TimeSpan afterCut = clock.Elapsed;
        Match figures = ReassignedLine().Match(reassigned);
        Output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"reassigned {figures.Groups["n"].Value} batch(es) of the cut-off worker {afterCut.TotalSeconds:F1} s after the cut (lease 60 s)"));
        Assert.Equal("1", figures.Groups["n"].Value);
        Assert.True(afterCut < TimeSpan.FromSeconds(30), $"reassignment took {afterCut}, not well below the 60 s lease");

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(180));

        // Cut off, it finished its batch anyway (the store is reachable) and keeps trying to record it.
        await cutOff.WaitForOutputAsync(l => l.Contains("Recording a batch in the ledger failed", StringComparison.Ordinal), TimeSpan.FromSeconds(120));
        Assert.True(slowInside.RequestCount > requestsAtCut, "the cut-off worker sent nothing more after the cut");
        Assert.False(cutOff.HasExited, cutOff.Describe());

        await clusterLink.RestoreAsync();
        string refused = await cutOff.WaitForOutputAsync(l => RefusedLine().IsMatch(l), TimeSpan.FromSeconds(120));
        Output.WriteLine($"after the link came back: {refused}");
        Assert.Equal(1, await cutOff.WaitForExitAsync(TimeSpan.FromSeconds(90))); // Downed: it drained and stopped.
        Assert.NotNull(cutOff.Output.FirstOrDefault(l => l.Contains("removed from the cluster", StringComparison.Ordinal)));

        StatusCommand.Totals totals = StatusCommand.Summarise(await job.StatusAsync());
        Assert.Equal(JobState.Completed, status.Job.State);
        Assert.Equal((300L, 300L, 0L, 0L), (totals.Objects, totals.Done, totals.Failed, totals.Dead));
        Assert.Equal(1, totals.Retries); // The cut-off worker's batch, given back once by its shard.
        IReadOnlyList<ObjectRecord> objects = await job.ReadObjectsAsync();
        Assert.Equal(300, objects.Count);
        Assert.Equal(300, objects.Select(o => o.Key).Distinct(StringComparer.Ordinal).Count());
        Assert.All(objects, o => Assert.Equal((ObjectOutcome.Done, Fixture.Keyring.Active), (o.Outcome, o.KeyVersion ?? 0)));
        await job.AssertOutputsAsync();
        Assert.All(coordinators.Concat(workers), p => Assert.False(p.HasExited, p.Describe()));
    }

    private static async Task<NetworkNamespace> CreateNamespaceOrSkipAsync()
    {
        try
        {
            return await NetworkNamespace.CreateAsync();
        }
        catch (NetworkNamespaceUnavailableException e) when (!MotoServer.IsCi)
        {
            Skip.If(true, $"No network partition test here: {e.Message}. It needs root and iproute2 (ip netns); under CI=true it fails instead.");
            throw;
        }
    }

    private static async Task<ChildProcess> StartCoordinatorAsync(DistributedJob job, string name)
    {
        ChildProcess coordinator = job.StartCoordinator(name);
        await coordinator.WaitForOutputAsync(l => l.Contains("Coordinator node is up", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return coordinator;
    }

    private static async Task<string> FirstLineAsync(IReadOnlyList<ChildProcess> processes, Func<string, bool> match)
    {
        string? line = await Poll.UntilAsync(
            () => Task.FromResult(processes.Select(p => p.Output.FirstOrDefault(match)).FirstOrDefault(l => l is not null)),
            static l => l is not null,
            TimeSpan.FromSeconds(60),
            "a class shard to reassign the cut-off worker's batch",
            () => string.Join(Environment.NewLine, processes.Select(p => p.Describe())));
        return line!;
    }

    [GeneratedRegex(@"Reassigned (?<n>\d+) batch\(es\) of class \S+ from lost worker (?<w>\S+) in (?<s>[0-9.]+) s")]
    private static partial Regex ReassignedLine();

    [GeneratedRegex(@"The ledger refused batch \d+ \(attempt \d+\): its lease token is stale")]
    private static partial Regex RefusedLine();
}
