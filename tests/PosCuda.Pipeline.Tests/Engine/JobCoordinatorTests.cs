using Akka.Actor;
using PosCuda.Engine.Actors;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Engine;

/// <summary>The job coordinator against a real (SQLite) ledger: what it publishes, what it keeps alive, what it finishes.</summary>
public sealed class JobCoordinatorTests(ITestOutputHelper output) : LedgerTestKit(nameof(JobCoordinatorTests), output)
{
    [Fact]
    public async Task Pass_PublishesClassesWithWorkAndKeepsTheirShardsAlive_FinishesADoneJobOnce()
    {
        Guid busy = await CreateJobAsync(("a", 4), ("b", 2));
        Guid done = await CreateJobAsync(("c", 2));
        await FinishAllAsync(done);
        var finisher = new CompletingFinisher(Ledger);
        var shards = CreateTestProbe();
        IActorRef coordinator = Sys.ActorOf(JobCoordinator.Props(Ledger, finisher, shards.Ref, TimeSpan.FromMilliseconds(200)));

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
        Assert.Equal(JobState.Completed, (await Ledger.GetJobAsync(done, CancellationToken.None))!.State);
        Assert.Equal(JobState.Running, (await Ledger.GetJobAsync(busy, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task BatchFinished_FinishesTheJobWithoutWaitingForTheNextPass()
    {
        Guid job = await CreateJobAsync(("a", 2));
        var finisher = new CompletingFinisher(Ledger);
        IActorRef coordinator = Sys.ActorOf(JobCoordinator.Props(Ledger, finisher, CreateTestProbe().Ref, TimeSpan.FromHours(1)));
        await AwaitAssertAsync(async () => Assert.NotEmpty((await coordinator.Ask<OpenClasses>(GetOpenClasses.Instance, TimeSpan.FromSeconds(5))).Classes), TimeSpan.FromSeconds(15));

        await FinishAllAsync(job);
        coordinator.Tell(new BatchFinished(job));

        await AwaitAssertAsync(() => Assert.Equal([job], finisher.Finished), TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
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
