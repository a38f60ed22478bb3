using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Actors;

/// <summary>The entity of one (job, class): hands out fenced batch leases of its class to the workers that ask and watches them.</summary>
/// <remarks>
/// <para>Its state (which worker holds which batch) is a cache of the ledger, rebuilt after a restart from the workers' renewals
/// (<see cref="StillHolding"/>). The ledger stays the system of record: every claim is a ledger transaction, every completion is fenced
/// by the lease token there.</para>
/// <para>When a worker it watches terminates (its node crashed, was downed or left), the shard gives that worker's batches back at once,
/// with the attempt counted, instead of waiting for their leases to run out.</para>
/// </remarks>
public sealed class ClassShard : ReceiveActor
{
    private static readonly TimeSpan s_idleAfter = TimeSpan.FromMinutes(2);
    private readonly IWorkLedger _ledger;
    private readonly Guid _jobId;
    private readonly string _label;
    private readonly Dictionary<long, Held> _held = [];
    private readonly Dictionary<IActorRef, HashSet<long>> _byWorker = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Creates the entity of <paramref name="entityId"/> (<c>{job}/{class}</c>).</summary>
    public ClassShard(string entityId, IWorkLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        (_jobId, _label) = ClassShardIds.Parse(entityId);
        _ledger = ledger;

        Receive<RequestBatch>(Request);
        Receive<Claimed>(OnClaimed);
        Receive<StillHolding>(OnStillHolding);
        Receive<BatchReturned>(r => Forget(r.BatchId, r.LeaseToken));
        Receive<KeepAlive>(_ => { });
        Receive<Terminated>(OnTerminated);
        Receive<GaveBack>(OnGaveBack);
        Receive<ReceiveTimeout>(_ => Passivate());
        Receive<StopShard>(_ => Context.Stop(Self));
    }

    /// <summary>The props of the entity <paramref name="entityId"/>.</summary>
    public static Props Props(string entityId, IWorkLedger ledger) => Akka.Actor.Props.Create(() => new ClassShard(entityId, ledger));

    /// <inheritdoc />
    protected override void PreStart() => Context.SetReceiveTimeout(s_idleAfter);

    private void Request(RequestBatch request)
    {
        IActorRef worker = Sender;
        TimeSpan lease = TimeSpan.FromSeconds(request.LeaseSeconds);
        Activity? claim = PipelineTelemetry.ActivitySource.StartActivity(
            SpanNames.Claim, ActivityKind.Server, PipelineTelemetry.ParseTraceParent(request.TraceParent));
        claim?.SetTag(PipelineTags.JobId, _jobId.ToString("D"));
        claim?.SetTag(PipelineTags.Class, _label);
        claim?.SetTag(PipelineTags.WorkerId, request.WorkerId);
        string? traceParent = claim?.Id;
        _ledger.ClaimClassBatchAsync(request.WorkerId, lease, _jobId, _label, request.MergeUpTo, CancellationToken.None).ContinueWith(
            t =>
            {
                claim?.SetTag(PipelineTags.Outcome, t.IsCompletedSuccessfully ? t.Result is null ? "empty" : "leased" : "error");
                claim?.Dispose();
                return new Claimed(t.IsCompletedSuccessfully ? t.Result : null, t.Exception?.GetBaseException(), worker, request.WorkerId, traceParent);
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private void OnClaimed(Claimed claimed)
    {
        if (claimed.Error is not null)
        {
            _log.Warning("Claiming a batch of {0} for {1} failed: {2}", _label, claimed.WorkerId, claimed.Error.Message);
        }

        if (claimed.Lease is not { } lease)
        {
            claimed.Worker.Tell(new NoBatch(_jobId, _label));
            return;
        }

        Track(claimed.Worker, new Held(lease.BatchId, lease.LeaseToken, lease.Attempt, claimed.WorkerId));
        claimed.Worker.Tell(new BatchGranted(
            _jobId, _label, lease.BatchId, lease.LeaseToken, lease.Attempt, lease.ExpiresAt, lease.Objects, claimed.TraceParent));
    }

    private void OnStillHolding(StillHolding holding)
    {
        if (!_held.ContainsKey(holding.BatchId))
        {
            Track(Sender, new Held(holding.BatchId, holding.LeaseToken, holding.Attempt, holding.WorkerId));
        }
    }

    private void Track(IActorRef worker, Held held)
    {
        _held[held.BatchId] = held with { Worker = worker };
        if (!_byWorker.TryGetValue(worker, out HashSet<long>? batches))
        {
            _byWorker[worker] = batches = [];
            Context.Watch(worker);
        }

        batches.Add(held.BatchId);
    }

    private void Forget(long batchId, Guid token)
    {
        if (!_held.TryGetValue(batchId, out Held? held) || held.Token != token)
        {
            return;
        }

        _held.Remove(batchId);
        if (held.Worker is { } worker && _byWorker.TryGetValue(worker, out HashSet<long>? batches) && batches.Remove(batchId) && batches.Count == 0)
        {
            _byWorker.Remove(worker);
            Context.Unwatch(worker);
        }
    }

    private void OnTerminated(Terminated terminated)
    {
        if (!_byWorker.Remove(terminated.ActorRef, out HashSet<long>? batches))
        {
            return;
        }

        var gone = batches.Select(id => _held[id]).ToList();
        foreach (Held held in gone)
        {
            _held.Remove(held.BatchId);
        }

        string worker = gone[0].WorkerId;
        _log.Warning("Worker {0} is gone (its node crashed, was downed or left); giving back its {1} batch(es) of {2}", worker, gone.Count, _label);
        var since = Stopwatch.StartNew();
        GiveBackAsync(gone, worker).ContinueWith(
            t => new GaveBack(worker, t.IsCompletedSuccessfully ? t.Result : 0, gone.Count, since.Elapsed, t.Exception?.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private async Task<int> GiveBackAsync(IReadOnlyList<Held> batches, string worker)
    {
        int given = 0;
        foreach (Held held in batches)
        {
            try
            {
                await _ledger.ReleaseBatchAsync(held.BatchId, held.Token, $"worker {worker} was lost while holding the batch", CancellationToken.None)
                    .ConfigureAwait(false);
                given++;
            }
            catch (LeaseLostException)
            {
                // It finished (or was rescued) before it died: nothing to give back.
            }
        }

        return given;
    }

    private void OnGaveBack(GaveBack result)
    {
        if (result.Error is not null)
        {
            // The leases run out and the coordinator's rescue takes them back: slower, never lost.
            _log.Error("Giving back the batches of {0} failed ({1}); their leases will expire instead", result.WorkerId, result.Error.Message);
            return;
        }

        _log.Warning(
            "Reassigned {0} batch(es) of class {1} from lost worker {2} in {3:F2} s",
            result.Given, _label, result.WorkerId, result.Elapsed.TotalSeconds);
    }

    private void Passivate()
    {
        if (_held.Count > 0)
        {
            return;
        }

        // Under sharding the region stops it; under the local host, the host does.
        Context.Parent.Tell(new Passivate(StopShard.Instance));
    }

    private sealed record Held(long BatchId, Guid Token, int Attempt, string WorkerId)
    {
        public IActorRef? Worker { get; init; }
    }

    private sealed record Claimed(BatchLease? Lease, Exception? Error, IActorRef Worker, string WorkerId, string? TraceParent) : INoSerializationVerificationNeeded;

    private sealed record GaveBack(string WorkerId, int Given, int Held, TimeSpan Elapsed, Exception? Error) : INoSerializationVerificationNeeded;
}
