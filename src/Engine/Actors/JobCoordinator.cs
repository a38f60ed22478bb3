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
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private OpenClasses _open = OpenClasses.None;
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
        Receive<GetOpenClasses>(_ => Sender.Tell(_open));
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

        var open = new List<OpenClass>();
        var active = new List<(Guid, string)>();
        var running = new List<JobStatus>();
        foreach (JobRecord job in await _ledger.ListJobsAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (job.State is not (JobState.Running or JobState.Planning)
                || (_onlyJob is { } only && job.JobId != only)
                || await _ledger.GetJobStatusAsync(job.JobId, CancellationToken.None).ConfigureAwait(false) is not JobStatus status)
            {
                continue;
            }

            running.Add(status);
            foreach (ClassStatus c in status.Classes)
            {
                if (c.PendingBatches > 0)
                {
                    open.Add(new OpenClass(job.JobId, c.Label, c.PendingBatches, job.Definition.TraceParent));
                }

                if (c.PendingBatches + c.LeasedBatches > 0)
                {
                    active.Add((job.JobId, c.Label));
                }
            }
        }

        PipelineTelemetry.JobGauges.Update(running);
        return new PassResult(maintenance, new OpenClasses(open), active);
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
}
