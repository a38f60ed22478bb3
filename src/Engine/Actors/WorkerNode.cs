using Akka.Actor;
using Akka.Event;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;

namespace PosCuda.Engine.Actors;

/// <summary>The worker side of a node: K <see cref="BatchWorker"/> slots, and the node's view of which classes have work.</summary>
/// <remarks>
/// The view comes from the job coordinator (asked every second) and is thinned locally as slots find classes empty. Slots are
/// spread over the classes with work in proportion to their pending batches, each preferring the class whose filter it already
/// holds, so that with 10 classes and 50 nodes every slot of every node is busy: workers pull from the class shards.
/// </remarks>
public sealed class WorkerNode : ReceiveActor, IWithTimers
{
    private readonly WorkerSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<int, Props> _slot;
    private readonly List<IActorRef> _slots = [];
    private readonly HashSet<IActorRef> _waiting = [];
    private readonly HashSet<IActorRef> _drained = [];
    private readonly List<Candidate> _open = [];
    private readonly Random _random = new();
    private IActorRef? _drainRequester;
    private bool _asking;

    /// <summary>Creates the node.</summary>
    public WorkerNode(WorkerSettings settings, BatchRunner runner, JobDefinitions jobs, IActorRef coordinator, IActorRef classShards, TimeSpan refresh)
    {
        _settings = settings;
        _coordinator = coordinator;
        _slot = i => BatchWorker.Props(settings, $"{settings.WorkerId}/slot-{i}", runner, jobs, coordinator, classShards);
        Refresh = refresh;

        Receive<RefreshTick>(_ => AskCoordinator());
        Receive<OpenClasses>(OnOpenClasses);
        Receive<AskFailed>(_ => _asking = false); // No answer (a singleton hand-over): the next tick asks again.
        Receive<WhereToWork>(OnWhereToWork);
        Receive<ClassEmpty>(e => _open.RemoveAll(c => c.JobId == e.JobId && c.Label == e.Label));
        Receive<Drain>(_ => StartDrain());
        Receive<Drained>(_ => OnSlotDrained());
        Receive<GiveBack>(_ => _slots.ForEach(s => s.Tell(GiveBack.Instance)));
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private TimeSpan Refresh { get; }

    /// <summary>The props of the node.</summary>
    public static Props Props(WorkerSettings settings, BatchRunner runner, JobDefinitions jobs, IActorRef coordinator, IActorRef classShards, TimeSpan refresh)
        => Akka.Actor.Props.Create(() => new WorkerNode(settings, runner, jobs, coordinator, classShards, refresh));

    /// <inheritdoc />
    protected override void PreStart()
    {
        for (int i = 1; i <= _settings.Slots; i++)
        {
            _slots.Add(Context.ActorOf(_slot(i), $"slot-{i}"));
        }

        Timers.StartPeriodicTimer("refresh", RefreshTick.Instance, TimeSpan.Zero, Refresh);
        _log.Info("Worker {0}: {1} slots, {2} objects in flight", _settings.WorkerId, _settings.Slots, _settings.Concurrency);
    }

    private void AskCoordinator()
    {
        if (_asking)
        {
            return;
        }

        _asking = true;
        _coordinator.Ask<OpenClasses>(GetOpenClasses.Instance, Refresh * 5).PipeTo(Self, failure: _ => AskFailed.Instance);
    }

    private void OnOpenClasses(OpenClasses open)
    {
        _asking = false;
        _open.Clear();
        _open.AddRange(open.Classes.Select(c => new Candidate(c.JobId, c.Label, c.TraceParent) { Pending = c.PendingBatches }));
        if (_open.Count > 0 && _drainRequester is null)
        {
            foreach (IActorRef slot in _waiting)
            {
                slot.Tell(WorkAvailable.Instance);
            }

            _waiting.Clear();
        }
    }

    private void OnWhereToWork(WhereToWork ask)
    {
        if (_drainRequester is not null)
        {
            Sender.Tell(Drain.Instance);
            return;
        }

        Candidate? pick = _open.Find(c => c.Pending > 0 && c.JobId == ask.PreferredJob && c.Label == ask.PreferredLabel) ?? Draw();
        if (pick is null)
        {
            _waiting.Add(Sender);
            Sender.Tell(NoWorkTarget.Instance);
            AskCoordinator(); // At once, not at the next tick: the view may be stale.
            return;
        }

        pick.Pending--; // One batch of it is spoken for: the next slot leans elsewhere until the next view.
        Sender.Tell(new WorkTarget(pick.JobId, pick.Label, pick.TraceParent));
    }

    // A class drawn in proportion to its pending batches.
    private Candidate? Draw()
    {
        long total = _open.Sum(c => Math.Max(0, c.Pending));
        if (total == 0)
        {
            return null;
        }

        long ticket = _random.NextInt64(total);
        foreach (Candidate c in _open)
        {
            ticket -= Math.Max(0, c.Pending);
            if (ticket < 0)
            {
                return c;
            }
        }

        return null;
    }

    private void StartDrain()
    {
        _drainRequester = Sender;
        _waiting.Clear();
        _slots.ForEach(s => s.Tell(Drain.Instance));
    }

    private void OnSlotDrained()
    {
        _drained.Add(Sender);
        if (_drainRequester is not null && _drained.Count == _slots.Count)
        {
            _drainRequester.Tell(Drained.Instance);
        }
    }

    private sealed class Candidate(Guid jobId, string label, string? traceParent)
    {
        public Guid JobId { get; } = jobId;

        public string Label { get; } = label;

        public string? TraceParent { get; } = traceParent;

        public long Pending { get; set; }
    }

    private sealed record AskFailed : INoSerializationVerificationNeeded
    {
        public static readonly AskFailed Instance = new();
    }

    private sealed record RefreshTick : INoSerializationVerificationNeeded
    {
        public static readonly RefreshTick Instance = new();
    }
}
