using Akka.Actor;
using PosCuda.Engine.Actors;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>The job coordinator against a real (SQLite) ledger: what it publishes, what it keeps alive, what it finishes.</summary>
public sealed class JobCoordinatorTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(EngineConfig.Local(serializeAllMessages: true), nameof(JobCoordinatorTests), output), IAsyncLifetime
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private readonly TempDirectory _temp = new();
    private IWorkLedger _ledger = null!;

    async Task IAsyncLifetime.InitializeAsync()
    {
        _ledger = WorkLedger.Open("sqlite:" + _temp["ledger.db"]);
        await _ledger.MigrateAsync(CancellationToken.None);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await _ledger.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Pass_PublishesClassesWithWorkAndKeepsTheirShardsAlive_FinishesADoneJobOnce()
    {
        Guid busy = await CreateJobAsync(("a", 4), ("b", 2));
        Guid done = await CreateJobAsync(("c", 2));
        await FinishAllAsync(done);
        var finisher = new CompletingFinisher(_ledger);
        var shards = CreateTestProbe();
        IActorRef coordinator = Sys.ActorOf(JobCoordinator.Props(_ledger, finisher, shards.Ref, TimeSpan.FromMilliseconds(200)));

        var alive = new HashSet<(Guid, string)>();
        await AwaitAssertAsync(
            async () =>
            {
                while (shards.HasMessages)
                {
                    KeepAlive k = await shards.ExpectMsgAsync<KeepAlive>();
                    alive.Add((k.JobId, k.Label));
                }

                Assert.Equal([(busy, "a"), (busy, "b")], alive.Order());
            },
            TimeSpan.FromSeconds(15),
            TimeSpan.FromMilliseconds(100));
        OpenClasses open = await coordinator.Ask<OpenClasses>(GetOpenClasses.Instance, TimeSpan.FromSeconds(5));

        Assert.Equal([("a", 2L, TraceParent), ("b", 1L, TraceParent)], open.Classes.Select(c => (c.Label, c.PendingBatches, c.TraceParent)).Order());
        Assert.All(open.Classes, c => Assert.Equal(busy, c.JobId));
        Assert.Equal([done], finisher.Finished);
        Assert.Equal(JobState.Completed, (await _ledger.GetJobAsync(done, CancellationToken.None))!.State);
        Assert.Equal(JobState.Running, (await _ledger.GetJobAsync(busy, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task BatchFinished_FinishesTheJobWithoutWaitingForTheNextPass()
    {
        Guid job = await CreateJobAsync(("a", 2));
        var finisher = new CompletingFinisher(_ledger);
        IActorRef coordinator = Sys.ActorOf(JobCoordinator.Props(_ledger, finisher, CreateTestProbe().Ref, TimeSpan.FromHours(1)));
        await AwaitAssertAsync(async () => Assert.NotEmpty((await coordinator.Ask<OpenClasses>(GetOpenClasses.Instance, TimeSpan.FromSeconds(5))).Classes), TimeSpan.FromSeconds(15));

        await FinishAllAsync(job);
        coordinator.Tell(new BatchFinished(job));

        await AwaitAssertAsync(() => Assert.Equal([job], finisher.Finished), TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
    }

    private async Task<Guid> CreateJobAsync(params (string Label, int Objects)[] classes)
    {
        Guid job = await _ledger.CreateJobAsync(
            new JobDefinition($"src-{Guid.NewGuid():N}", "dst", "regex:x", new ProtectionParameters(), "key", 1, TraceParent: TraceParent), CancellationToken.None);
        await _ledger.AddObjectsAsync(
            job, [.. classes.SelectMany(c => Enumerable.Range(0, c.Objects).Select(i => new PlannedObject($"{c.Label}/{i}.wav", c.Label, 10, null)))], 2, CancellationToken.None);
        await _ledger.StartJobAsync(job, CancellationToken.None);
        return job;
    }

    private async Task FinishAllAsync(Guid job)
    {
        while (await _ledger.ClaimBatchAsync("test", TimeSpan.FromMinutes(1), job, CancellationToken.None) is BatchLease lease)
        {
            await _ledger.CompleteBatchAsync(
                lease, [.. lease.Objects.Select(o => new ObjectResult(o.ObjectId, ObjectOutcome.Done, null, 1, null, "e", o.Size, 0))], CancellationToken.None);
        }
    }

    // Completes the job in the ledger (the manifest is ManifestJobFinisher's business, tested with it) and records the call.
    private sealed class CompletingFinisher(IWorkLedger ledger) : IJobFinisher
    {
        private readonly List<Guid> _finished = [];

        public IReadOnlyList<Guid> Finished
        {
            get
            {
                lock (_finished)
                {
                    return [.. _finished];
                }
            }
        }

        public async Task FinishAsync(Guid jobId, CancellationToken cancellationToken)
        {
            if (await ledger.CompleteJobAsync(jobId, cancellationToken))
            {
                lock (_finished)
                {
                    _finished.Add(jobId);
                }
            }
        }
    }
}
