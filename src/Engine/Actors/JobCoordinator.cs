using Akka.Actor;
using Akka.Event;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Actors;

/// <summary>The one coordinator of the cluster (a cluster singleton on the <c>coordinator</c> role, or a plain actor in one process).</summary>
/// <remarks>
/// Every pass: puts expired leases back in play and dead-letters poison batches (the backstop when a worker's death went unseen),
/// finishes jobs whose batches are all done or dead (manifest, then completion), keeps the class shards of active jobs alive (which
/// restarts them after a crash), and publishes which classes have work to the worker nodes that ask. Its state is a cache of the ledger:
/// a new incarnation (after a crash or a hand-over) rebuilds it on its first pass.
/// </remarks>
public sealed class JobCoordinator : ReceiveActor, IWithTimers
{
    private readonly IWorkLedger _ledger;
    private readonly IJobFinisher _finisher;
    private readonly IActorRef _classShards;
    private readonly TimeSpan _interval;
    private readonly Guid? _onlyJob;
    // How old a view of the open classes may be when a worker node asks.
    private static readonly TimeSpan Freshness = TimeSpan.FromMilliseconds(100);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _askers = [];
    private OpenClasses _open = OpenClasses.None;
    private DateTime _openAt = DateTime.MinValue;
    private bool _refreshing;
    private bool _passing;
    private bool _checking;
    private bool _checkAgain;

    /// <summary>Creates the coordinator.</summary>
    public JobCoordinator(IWorkLedger ledger, IJobFinisher finisher, IActorRef classShards, TimeSpan interval, Guid? onlyJob = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(finisher);
        ArgumentNullException.ThrowIfNull(classShards);
        _ledger = ledger;
        _finisher = finisher;
        _classShards = classShards;
        _interval = interval;
        _onlyJob = onlyJob;

        Receive<Tick>(_ => StartPass());
        Receive<PassDone>(OnPassDone);
        Receive<GetOpenClasses>(_ => AnswerOpenClasses());
        Receive<OpenRefreshed>(OnOpenRefreshed);
        Receive<BatchFinished>(_ => CheckFinished());
        Receive<CheckDone>(OnCheckDone);
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The props of the coordinator.</summary>
    public static Props Props(IWorkLedger ledger, IJobFinisher finisher, IActorRef classShards, TimeSpan interval, Guid? onlyJob = null)
        => Akka.Actor.Props.Create(() => new JobCoordinator(ledger, finisher, classShards, interval, onlyJob));

    /// <inheritdoc />
    protected override void PreStart()
    {
        _log.Info("Job coordinator started on this node");
        Timers.StartPeriodicTimer("pass", Tick.Instance, TimeSpan.Zero, _interval);
    }

    private void StartPass()
    {
        if (_passing)
        {
            return;
        }

        _passing = true;
        PassAsync().ContinueWith(
            t => new PassDone(t.IsCompletedSuccessfully ? t.Result : null, t.Exception?.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private async Task<PassResult> PassAsync()
    {
        DateTimeOffset rescueStarted = DateTimeOffset.UtcNow;
        MaintenanceResult maintenance = await _ledger.RescueExpiredLeasesAsync(CancellationToken.None).ConfigureAwait(false);
        PipelineTelemetry.RecordMaintenance(maintenance, rescueStarted);
        await FinishJobsAsync().ConfigureAwait(false);
        (OpenClasses open, IReadOnlyList<(Guid, string)> active) = await ReadWorkAsync(gauges: PipelineTelemetry.PendingBatches.Enabled).ConfigureAwait(false);
        return new PassResult(maintenance, open, active);
    }

    // Which classes have batches waiting (open) or in hand (active); with gauges, also the full status of every running job.
    private async Task<(OpenClasses Open, IReadOnlyList<(Guid, string)> Active)> ReadWorkAsync(bool gauges)
    {
        var open = new List<OpenClass>();
        var active = new List<(Guid, string)>();
        var running = new List<JobStatus>();
        foreach (JobRecord job in await _ledger.ListJobsAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (job.State is not (JobState.Running or JobState.Planning) || (_onlyJob is { } only && job.JobId != only))
            {
                continue;
            }

            foreach (ClassBatches c in await _ledger.GetClassBatchesAsync(job.JobId, CancellationToken.None).ConfigureAwait(false))
            {
                if (c.Claimable > 0)
                {
                    open.Add(new OpenClass(job.JobId, c.Label, c.Claimable, job.Definition.TraceParent));
                }

                if (c.Pending + c.Leased > 0)
                {
                    active.Add((job.JobId, c.Label));
                }
            }

            if (gauges && await _ledger.GetJobStatusAsync(job.JobId, CancellationToken.None).ConfigureAwait(false) is JobStatus status)
            {
                running.Add(status);
            }
        }

        if (gauges)
        {
            PipelineTelemetry.JobGauges.Update(running); // Only when collected: the full status reads every object row.
        }

        return (new OpenClasses(open), active);
    }

    // Answers from the last view while it is fresh; otherwise reads the classes with work (a cheap read of batch counts) first, so
    // that idle slots learn of newly opened batches within a fraction of the pass interval.
    private void AnswerOpenClasses()
    {
        if (DateTime.UtcNow - _openAt <= Freshness)
        {
            Sender.Tell(_open);
            return;
        }

        _askers.Add(Sender);
        if (_refreshing)
        {
            return;
        }

        _refreshing = true;
        ReadWorkAsync(gauges: false).ContinueWith(
            t => new OpenRefreshed(t.IsCompletedSuccessfully ? t.Result.Open : null),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private void OnOpenRefreshed(OpenRefreshed refreshed)
    {
        _refreshing = false;
        if (refreshed.Open is not null)
        {
            _open = refreshed.Open;
            _openAt = DateTime.UtcNow;
        }

        foreach (IActorRef asker in _askers)
        {
            asker.Tell(_open);
        }

        _askers.Clear();
    }

    private async Task FinishJobsAsync()
    {
        foreach (Guid jobId in await _ledger.FindFinishedJobsAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (_onlyJob is { } only && jobId != only)
            {
                continue;
            }

            // Manifest first, completion after: a coordinator that dies in between leaves the job running, and the next pass (of
            // this or the next incarnation) writes the same manifest again and completes it.
            await _finisher.FinishAsync(jobId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private void OnPassDone(PassDone done)
    {
        _passing = false;
        if (done.Error is not null || done.Result is null)
        {
            _log.Warning("Coordinator pass failed ({0}); retrying in {1}", done.Error?.Message, _interval);
            return;
        }

        PassResult result = done.Result;
        if (result.Maintenance.Rescued > 0 || result.Maintenance.DeadLettered > 0)
        {
            _log.Warning("Rescued {0} expired leases; dead-lettered {1} batches", result.Maintenance.Rescued, result.Maintenance.DeadLettered);
        }

        _open = result.Open;
        _openAt = DateTime.UtcNow;
        foreach ((Guid job, string label) in result.Active)
        {
            _classShards.Tell(new KeepAlive(job, label));
        }
    }

    // A batch just finished: see at once whether its job is done, instead of at the next pass (one check at a time, coalesced).
    private void CheckFinished()
    {
        if (_checking)
        {
            _checkAgain = true;
            return;
        }

        _checking = true;
        _checkAgain = false;
        FinishJobsAsync().ContinueWith(
            t => new CheckDone(t.Exception?.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private void OnCheckDone(CheckDone done)
    {
        _checking = false;
        if (done.Error is not null)
        {
            _log.Warning("Finishing jobs failed ({0}); the next pass tries again", done.Error.Message);
        }
        else if (_checkAgain)
        {
            CheckFinished();
        }
    }

    private sealed record Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record PassResult(MaintenanceResult Maintenance, OpenClasses Open, IReadOnlyList<(Guid JobId, string Label)> Active) : INoSerializationVerificationNeeded;

    private sealed record PassDone(PassResult? Result, Exception? Error) : INoSerializationVerificationNeeded;

    private sealed record CheckDone(Exception? Error) : INoSerializationVerificationNeeded;

    private sealed record OpenRefreshed(OpenClasses? Open) : INoSerializationVerificationNeeded;
}
