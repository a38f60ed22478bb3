using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Actors;

/// <summary>One slot of a worker node: asks a class shard for a batch, runs it (GET, patch, PUT) through <see cref="BatchRunner"/>, asks again.</summary>
/// <remarks>
/// It prefers the class whose filter it already holds. The batch runs as a task outside the actor; its end comes back as a message.
/// A grant that arrives when the slot cannot take it (it timed out waiting, or is draining) is given back at once, uncounted;
/// a draining slot waits for the answer to an ask it has out (at most the ask's timeout) and for such give-backs.
/// </remarks>
public sealed class BatchWorker : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan s_idleRecheck = TimeSpan.FromSeconds(2);
    private readonly WorkerSettings _settings;
    private readonly string _workerId;
    private readonly BatchRunner _runner;
    private readonly JobDefinitions _jobs;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _classShards;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private (Guid JobId, string Label)? _asking;
    private (Guid JobId, string Label)? _last;
    private BatchGranted? _current;
    private CancellationTokenSource? _abort;
    private bool _draining;
    private bool _reportedDrained;
    private int _declining; // grants being given back: a draining slot reports drained only once they are

    /// <summary>Creates a slot.</summary>
    public BatchWorker(WorkerSettings settings, string workerId, BatchRunner runner, JobDefinitions jobs, IActorRef coordinator, IActorRef classShards)
    {
        _settings = settings;
        _workerId = workerId;
        _runner = runner;
        _jobs = jobs;
        _coordinator = coordinator;
        _classShards = classShards;

        Receive<LookForWorkTick>(_ => LookForWork());
        Receive<WorkTarget>(Ask);
        Receive<NoWorkTarget>(_ => Timers.StartSingleTimer("idle", LookForWorkTick.Instance, s_idleRecheck));
        Receive<WorkAvailable>(_ =>
        {
            if (_asking is null && _current is null)
            {
                LookForWork();
            }
        });
        Receive<NoBatch>(OnNoBatch);
        Receive<AskTimedOut>(_ =>
        {
            _asking = null;
            LookForWork();
        });
        Receive<BatchGranted>(OnGranted);
        Receive<Declined>(_ =>
        {
            _declining--;
            ReportIfDrained();
        });
        Receive<BatchEnded>(OnEnded);
        Receive<Drain>(_ =>
        {
            _draining = true;
            ReportIfDrained();
        });
        Receive<GiveBack>(_ =>
        {
            _draining = true;
            _abort?.Cancel();
            ReportIfDrained();
        });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The number of batches in hand on this process (all slots), for the in-flight gauge.</summary>
    public static int BatchesInFlight => Volatile.Read(ref s_inFlight);

    private static int s_inFlight;

    /// <summary>The props of a slot.</summary>
    public static Props Props(WorkerSettings settings, string workerId, BatchRunner runner, JobDefinitions jobs, IActorRef coordinator, IActorRef classShards)
        => Akka.Actor.Props.Create(() => new BatchWorker(settings, workerId, runner, jobs, coordinator, classShards));

    /// <inheritdoc />
    protected override void PreStart() => Self.Tell(LookForWorkTick.Instance);

    /// <inheritdoc />
    protected override void PostStop() => _abort?.Cancel(); // The system is going down: the runner gives the batch back.

    private void LookForWork()
    {
        if (_draining)
        {
            ReportIfDrained();
            return;
        }

        if (_asking is null && _current is null)
        {
            Context.Parent.Tell(new WhereToWork(_last?.JobId, _last?.Label));
        }
    }

    private void Ask(WorkTarget target)
    {
        if (_draining || _asking is not null || _current is not null)
        {
            return;
        }

        _asking = (target.JobId, target.Label);
        _classShards.Tell(new RequestBatch(target.JobId, target.Label, _workerId, _settings.LeaseDuration.TotalSeconds, target.TraceParent, _settings.ClaimObjects));
        Timers.StartSingleTimer("ask", AskTimedOut.Instance, s_askTimeout);
    }

    private void OnNoBatch(NoBatch none)
    {
        if (_asking != (none.JobId, none.Label))
        {
            return;
        }

        Timers.Cancel("ask");
        _asking = null;
        Context.Parent.Tell(new ClassEmpty(none.JobId, none.Label));
        LookForWork();
    }

    private void OnGranted(BatchGranted grant)
    {
        if (_current is not null || _draining || _asking != (grant.JobId, grant.Label))
        {
            if (_draining && _asking == (grant.JobId, grant.Label))
            {
                // The answer to the ask a drain was waiting for.
                Timers.Cancel("ask");
                _asking = null;
            }

            Decline(grant);
            return;
        }

        Timers.Cancel("ask");
        _asking = null;
        _current = grant;
        _last = (grant.JobId, grant.Label);
        _abort = new CancellationTokenSource();
        Interlocked.Increment(ref s_inFlight);
        IActorRef self = Self;
        IActorRef shards = _classShards;
        var holding = new StillHolding(grant.JobId, grant.Label, grant.BatchId, grant.LeaseToken, grant.Attempt, _workerId);
        RunAsync(grant, () => shards.Tell(holding, self), _abort.Token)
            .PipeTo(Self, failure: e => new BatchEnded(grant, BatchOutcome.Lost, e.Message)); // Never leave the slot waiting.
    }

    private async Task<BatchEnded> RunAsync(BatchGranted grant, Action renewed, CancellationToken abort)
    {
        DateTimeOffset since = DateTimeOffset.UtcNow;
        try
        {
            JobDefinition job = await _jobs.GetAsync(grant.JobId).ConfigureAwait(false);
            var lease = new BatchLease(grant.JobId, job, grant.BatchId, grant.Label, grant.LeaseToken, grant.Attempt, grant.ExpiresAt, grant.Objects);
            BatchOutcome outcome = await _runner.RunAsync(
                lease, _workerId, _settings.LeaseDuration, _settings.ConcurrencyPerSlot, since, grant.TraceParent, renewed, abort).ConfigureAwait(false);
            return new BatchEnded(grant, outcome, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The job's definition could not be read (the ledger is away): give the batch back uncounted; if that fails too,
            // its lease runs out and the coordinator takes it back.
            try
            {
                await _runner.GiveBackAsync(grant.BatchId, grant.LeaseToken, grant.Attempt).ConfigureAwait(false);
            }
            catch (Exception release) when (release is not OutOfMemoryException)
            {
                return new BatchEnded(grant, BatchOutcome.Lost, $"{e.Message}; giving it back failed too ({release.Message})");
            }

            return new BatchEnded(grant, BatchOutcome.Released, e.Message);
        }
    }

    private void OnEnded(BatchEnded ended)
    {
        Interlocked.Decrement(ref s_inFlight);
        _abort?.Dispose();
        _abort = null;
        _current = null;
        BatchGranted grant = ended.Grant;
        if (ended.Error is not null)
        {
            _log.Error("Batch {0} of {1} could not start: {2}", grant.BatchId, grant.Label, ended.Error);
        }

        _classShards.Tell(new BatchReturned(grant.JobId, grant.Label, grant.BatchId, grant.LeaseToken));
        if (ended.Outcome == BatchOutcome.Completed)
        {
            _coordinator.Tell(new BatchFinished(grant.JobId));
        }

        LookForWork();
    }

    private void Decline(BatchGranted grant)
    {
        // Claimed for this slot but no longer wanted: give it back uncounted, fenced by its token.
        IActorRef shards = _classShards;
        var returned = new BatchReturned(grant.JobId, grant.Label, grant.BatchId, grant.LeaseToken);
        _declining++;
        _runner.GiveBackAsync(grant.BatchId, grant.LeaseToken, grant.Attempt)
            .ContinueWith(
                _ =>
                {
                    shards.Tell(returned);
                    return Declined.Instance;
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default)
            .PipeTo(Self);
    }

    // Drained: no batch in hand, no ask unanswered (its grant would come after the node left, and the shard would count the
    // batch as lost with the node), and every declined grant given back.
    private void ReportIfDrained()
    {
        if (_draining && _current is null && _asking is null && _declining == 0 && !_reportedDrained)
        {
            _reportedDrained = true;
            Context.Parent.Tell(Drained.Instance);
        }
    }

    private sealed record LookForWorkTick : INoSerializationVerificationNeeded
    {
        public static readonly LookForWorkTick Instance = new();
    }

    private sealed record AskTimedOut : INoSerializationVerificationNeeded
    {
        public static readonly AskTimedOut Instance = new();
    }

    private sealed record Declined : INoSerializationVerificationNeeded
    {
        public static readonly Declined Instance = new();
    }

    private sealed record BatchEnded(BatchGranted Grant, BatchOutcome Outcome, string? Error) : INoSerializationVerificationNeeded;
}
