using Akka.Actor;
using Akka.Cluster;

namespace PosCuda.Engine.Hosting;

/// <summary>Whether this node is alive and ready, as the liveness and readiness probes ask (on <c>--health-port</c>).</summary>
/// <remarks>
/// Alive: the actor system runs and its dispatcher answers within <see cref="AnswerTimeout"/> (a wedged system is restarted; a ledger
/// outage is not a reason to restart). Ready: this node is an <c>Up</c> member of the cluster (not joining, leaving or downed) and
/// the ledger answers a query within <see cref="AnswerTimeout"/>.
/// </remarks>
public sealed class NodeHealth : IExtension
{
    /// <summary>The liveness route.</summary>
    public const string AlivePath = "/alive";

    /// <summary>The readiness route.</summary>
    public const string ReadyPath = "/ready";

    /// <summary>How long a check waits for the actor system or the ledger.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);

    private readonly ExtendedActorSystem _system;
    private Func<CancellationToken, Task>? _ledgerProbe;

    /// <summary>Creates the extension for <paramref name="system"/>.</summary>
    public NodeHealth(ExtendedActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        _system = system;
    }

    /// <summary>The extension of <paramref name="system"/>.</summary>
    public static NodeHealth Get(ActorSystem system) => system.WithExtension<NodeHealth, NodeHealthProvider>();

    /// <summary>Sets the query that shows the ledger is reachable (a cheap read); until set, the node is not ready.</summary>
    public void UseLedgerProbe(Func<CancellationToken, Task> probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        _ledgerProbe = probe;
    }

    /// <summary>Checks liveness: the actor system runs and answers.</summary>
    public async Task<HealthResult> CheckAliveAsync()
    {
        if (_system.WhenTerminated.IsCompleted)
        {
            return HealthResult.Failing("the actor system has stopped");
        }

        try
        {
            await _system.ActorSelection("/system").Ask<ActorIdentity>(new Identify("health"), AnswerTimeout).ConfigureAwait(false);
            return HealthResult.Healthy("the actor system answers");
        }
        catch (AskTimeoutException)
        {
            return HealthResult.Failing($"the actor system did not answer within {AnswerTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Checks readiness: an Up member of the cluster that reaches the ledger.</summary>
    public async Task<HealthResult> CheckReadyAsync()
    {
        if (_system.WhenTerminated.IsCompleted)
        {
            return HealthResult.Failing("the actor system has stopped");
        }

        MemberStatus status = Cluster.Get(_system).SelfMember.Status;
        if (status != MemberStatus.Up)
        {
            return HealthResult.Failing($"not an Up member of the cluster (status {status})");
        }

        if (_ledgerProbe is not { } probe)
        {
            return HealthResult.Failing("the ledger has not been opened yet");
        }

        using var timeout = new CancellationTokenSource(AnswerTimeout);
        try
        {
            await probe(timeout.Token).WaitAsync(AnswerTimeout).ConfigureAwait(false);
            return HealthResult.Healthy("an Up member of the cluster; the ledger answers");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The exception's type only: a driver's message could name a host or user, and nothing here needs more.
            return HealthResult.Failing($"the ledger does not answer ({e.GetType().Name})");
        }
    }
}

/// <summary>Creates <see cref="NodeHealth"/>, once per actor system.</summary>
internal sealed class NodeHealthProvider : ExtensionIdProvider<NodeHealth>
{
    /// <inheritdoc />
    public override NodeHealth CreateExtension(ExtendedActorSystem system) => new(system);
}
