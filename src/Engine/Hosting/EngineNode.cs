using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Dsl;
using PosCuda.Engine.Actors;
using PosCuda.Engine.Batches;
using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Hosting;

/// <summary>One process's part of the engine: its actor system, and the coordinator, class shards and worker slots it runs.</summary>
/// <remarks>
/// A cluster node runs the job coordinator singleton and the class shards when it has the coordinator role, and K worker slots when
/// it has the worker role; <c>poscuda protect</c> runs all of them in one local actor system with no listening port.
/// </remarks>
public sealed class EngineNode : IAsyncDisposable
{
    /// <summary>The job coordinator singleton's name under /user.</summary>
    public const string CoordinatorName = "job-coordinator";

    // How often the slots of the one-process engine look for newly opened batches (a message to a local actor and, at most every
    // 100 ms, a read of batch counts): planning opens batches as it lists, and a slot should not idle for a whole pass interval.
    private static readonly TimeSpan LocalRefresh = TimeSpan.FromMilliseconds(100);

    /// <summary>The class shards' sharding type name.</summary>
    public const string ClassShardType = "class-shard";

    private EngineNode(ActorSystem system, IActorRef coordinator, IActorRef classShards, IActorRef? workers, TimeSpan drainTimeout)
    {
        System = system;
        Coordinator = coordinator;
        ClassShards = classShards;
        Workers = workers;
        DrainTimeout = drainTimeout;
    }

    /// <summary>The actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>The job coordinator (a singleton proxy on a cluster node).</summary>
    public IActorRef Coordinator { get; }

    /// <summary>The class shards (a shard region, its proxy, or the local host).</summary>
    public IActorRef ClassShards { get; }

    /// <summary>This node's worker slots' parent, or null on a node without the worker role.</summary>
    public IActorRef? Workers { get; }

    private TimeSpan DrainTimeout { get; }

    /// <summary>The worker side of a node: the runner and its settings.</summary>
    public sealed record WorkerParts(WorkerSettings Settings, BatchRunner Runner);

    /// <summary>Starts a cluster node and waits until it is up (joined through the seeds or Kubernetes bootstrap).</summary>
    /// <param name="settings">Where it listens, how it joins, its roles.</param>
    /// <param name="ledger">The ledger (PostgreSQL).</param>
    /// <param name="finisher">What finishes jobs (the coordinator role needs it).</param>
    /// <param name="worker">The worker side (the worker role needs it).</param>
    /// <param name="cancellationToken">Stops waiting for the cluster.</param>
    public static async Task<EngineNode> StartClusterAsync(
        ClusterSettings settings, IWorkLedger ledger, IJobFinisher? finisher, WorkerParts? worker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(ledger);
        bool coordinates = settings.Roles.Contains(ClusterSettings.CoordinatorRole);
        bool works = settings.Roles.Contains(ClusterSettings.WorkerRole);
        if (coordinates && finisher is null)
        {
            throw new ArgumentException("A coordinator node needs a job finisher.", nameof(finisher));
        }

        if (works && worker is null)
        {
            throw new ArgumentException("A worker node needs its worker parts.", nameof(worker));
        }

        var system = ActorSystem.Create(ClusterSettings.SystemName, EngineConfig.Cluster(settings));
        try
        {
            Cluster cluster = Cluster.Get(system);
            ClusterTelemetry.Observe(cluster);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            // Readiness needs the ledger: one indexed read of the batch counts of no job is a round trip that also shows the schema is there.
            NodeHealth.Get(system).UseLedgerProbe(ct => ledger.GetClassBatchesAsync(Guid.Empty, ct));
            if (settings.HealthPort > 0)
            {
                HealthEndpoint.Start(system, settings.HealthPort);
            }

            if (settings.Discovery == ClusterDiscovery.Kubernetes)
            {
                await AkkaManagement.Get(system).Start().ConfigureAwait(false);
                await ClusterBootstrap.Get(system).Start().ConfigureAwait(false);
            }
            else if (settings.ManagementHttpPort > 0)
            {
                await AkkaManagement.Get(system).Start().ConfigureAwait(false);
            }

            await up.Task.WaitAsync(cancellationToken).ConfigureAwait(false);

            var sharding = ClusterSharding.Get(system);
            IActorRef classShards;
            if (coordinates)
            {
                ClusterShardingSettings shardingSettings = ClusterShardingSettings.Create(system).WithRole(ClusterSettings.CoordinatorRole);
                classShards = await sharding.StartAsync(
                    ClassShardType,
                    entityId => ClassShard.Props(entityId, ledger),
                    shardingSettings,
                    new ClassShardIds(),
                    new StayPutAllocationStrategy(sharding.DefaultShardAllocationStrategy(shardingSettings)),
                    Protocol.StopShard.Instance).ConfigureAwait(false);
                system.ActorOf(
                    ClusterSingletonManager.Props(
                        JobCoordinator.Props(ledger, finisher!, classShards, TimeSpan.FromSeconds(1)),
                        PoisonPill.Instance,
                        ClusterSingletonManagerSettings.Create(system).WithRole(ClusterSettings.CoordinatorRole)),
                    CoordinatorName);
            }
            else
            {
                classShards = await sharding.StartProxyAsync(ClassShardType, ClusterSettings.CoordinatorRole, new ClassShardIds()).ConfigureAwait(false);
            }

            IActorRef coordinator = system.ActorOf(
                ClusterSingletonProxy.Props(
                    "/user/" + CoordinatorName, ClusterSingletonProxySettings.Create(system).WithRole(ClusterSettings.CoordinatorRole)),
                CoordinatorName + "-proxy");
            IActorRef? workers = worker is null || !works
                ? null
                : system.ActorOf(
                    WorkerNode.Props(worker.Settings, worker.Runner, new JobDefinitions(ledger), coordinator, classShards, TimeSpan.FromSeconds(1)),
                    "worker");
            var node = new EngineNode(system, coordinator, classShards, workers, settings.DrainTimeout);
            node.RegisterDrain();
            return node;
        }
        catch
        {
            await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the one-process engine: coordinator, class shards and worker slots in a local actor system.</summary>
    /// <param name="ledger">The ledger (SQLite in a state folder).</param>
    /// <param name="finisher">What finishes jobs.</param>
    /// <param name="worker">The worker side.</param>
    /// <param name="interval">The coordinator's pass interval.</param>
    /// <param name="onlyJob">Work on this job only (the ledger may hold older, unfinished jobs of other parameters).</param>
    /// <param name="serializeAllMessages">Serialise every message (tests).</param>
    public static EngineNode StartLocal(
        IWorkLedger ledger, IJobFinisher finisher, WorkerParts worker, TimeSpan interval, Guid? onlyJob = null, bool serializeAllMessages = false)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(finisher);
        ArgumentNullException.ThrowIfNull(worker);
        var system = ActorSystem.Create(ClusterSettings.SystemName, EngineConfig.Local(serializeAllMessages));
        IActorRef classShards = system.ActorOf(LocalShardHost.Props(ledger), "class-shards");
        IActorRef coordinator = system.ActorOf(JobCoordinator.Props(ledger, finisher, classShards, interval, onlyJob), CoordinatorName);
        IActorRef workers = system.ActorOf(
            WorkerNode.Props(worker.Settings, worker.Runner, new JobDefinitions(ledger), coordinator, classShards, LocalRefresh), "worker");
        var node = new EngineNode(system, coordinator, classShards, workers, TimeSpan.FromDays(1));
        node.RegisterDrain();
        return node;
    }

    /// <summary>Stops taking work and finishes the batches in hand; after <paramref name="timeout"/>, gives them back.</summary>
    /// <returns>True when every batch in hand finished; false when some were given back.</returns>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        if (Workers is null)
        {
            return true;
        }

        try
        {
            await Workers.Ask<Drained>(Drain.Instance, timeout).ConfigureAwait(false);
            return true;
        }
        catch (AskTimeoutException)
        {
            Workers.Tell(Actors.GiveBack.Instance);
            try
            {
                await Workers.Ask<Drained>(Drain.Instance, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                // Whatever is still in hand has its lease run out; the coordinator takes it back.
            }

            return false;
        }
    }

    /// <summary>Gives every batch in hand back at once (a second signal).</summary>
    public void GiveBack() => Workers?.Tell(Actors.GiveBack.Instance);

    /// <summary>Runs coordinated shutdown (drain, leave the cluster, stop) and waits for the actor system to end.</summary>
    public async Task ShutdownAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        await System.WhenTerminated.ConfigureAwait(false);
    }

    /// <summary>This node's address (<c>akka.tcp://poscuda@host:port</c>, or the local system's).</summary>
    public string Address => ((ExtendedActorSystem)System).Provider.DefaultAddress.ToString();

    /// <summary>Why the actor system stopped, or null while it runs.</summary>
    public CoordinatedShutdown.Reason? ShutdownReason => CoordinatedShutdown.Get(System).ShutdownReason;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            await ShutdownAsync().ConfigureAwait(false);
        }
    }

    // SIGTERM (or being downed) runs coordinated shutdown; its first phase finishes or gives back the batches in hand.
    private void RegisterDrain()
    {
        CoordinatedShutdown.Get(System).AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "drain-batches", async () =>
        {
            await DrainAsync(DrainTimeout).ConfigureAwait(false);
            return Akka.Done.Instance;
        });
    }
}
