using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PosCuda.Engine.Hosting;

namespace PosCuda.Worker.Hosting;

/// <summary>The command-line options every cluster node takes (<c>poscuda coordinator</c> and <c>poscuda-worker</c>), and running a node until it stops.</summary>
public sealed class ClusterCli
{
    /// <summary>The remoting port.</summary>
    public Option<int> Port { get; } = new Option<int>("--port") { Description = "Akka remoting port (0 = any free port).", DefaultValueFactory = _ => 0 }.AtLeast(0);

    /// <summary>The address to bind and advertise.</summary>
    public Option<string> Hostname { get; } = new("--hostname") { Description = "Address to bind and advertise to the other nodes.", DefaultValueFactory = _ => "127.0.0.1" };

    /// <summary>An address other nodes reach this one at, when it differs.</summary>
    public Option<string?> PublicHostname { get; } = new("--public-hostname") { Description = "Address the other nodes reach this one at, when it differs from --hostname." };

    /// <summary>Static seed nodes.</summary>
    public Option<string[]> Seeds { get; } = new("--seed")
    {
        Description = $"A seed node HOST:PORT (repeatable; default: {ClusterSettings.SeedNodesVariable}=HOST:PORT,...).",
    };

    /// <summary>How the cluster forms.</summary>
    public Option<ClusterDiscovery> Discovery { get; } = new("--discovery")
    {
        Description = "How nodes find each other: SeedNodes (--seed) or Kubernetes (Akka.Management bootstrap over the Kubernetes API).",
        DefaultValueFactory = _ => ClusterDiscovery.SeedNodes,
    };

    /// <summary>The Akka.Management HTTP port.</summary>
    public Option<int> ManagementPort { get; } = new Option<int>("--management-port")
    {
        Description = "Akka.Management HTTP port (health checks, bootstrap; 0 = off unless --discovery Kubernetes, which uses 8558).",
    }.AtLeast(0);

    /// <summary>The HTTP port of the liveness and readiness probes.</summary>
    public Option<int> HealthPort { get; } = new Option<int>("--health-port")
    {
        Description = "HTTP port answering GET /alive (the actor system runs) and GET /ready (an Up cluster member that reaches the ledger) with 200 or 503 (0 = off).",
    }.AtLeast(0);

    /// <summary>How long the split brain resolver waits before downing unreachable nodes.</summary>
    public Option<double> StableAfter { get; } = new Option<double>("--stable-after")
    {
        Description = "Seconds the split brain resolver waits for a stable view before downing unreachable nodes.",
        DefaultValueFactory = _ => 10,
    }.Positive();

    /// <summary>Checks the options and environment, prints the settings the node would run with and exits, starting nothing.</summary>
    public Option<bool> CheckConfig { get; } = new("--check-config")
    {
        Description = "Check the options and environment, print the settings this node would run with (JSON, no secrets) and exit: 0, or 2 with the reason. Starts nothing and connects to nothing.",
    };

    /// <summary>Adds the options to a command.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (Option option in (Option[])[Port, Hostname, PublicHostname, Seeds, Discovery, ManagementPort, HealthPort, StableAfter, CheckConfig])
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Reads the options into settings for a node with <paramref name="roles"/>.</summary>
    /// <exception cref="ArgumentException">No way to find the cluster, or a malformed seed.</exception>
    public ClusterSettings Read(ParseResult result, IReadOnlyList<string> roles, TimeSpan drainTimeout)
    {
        ArgumentNullException.ThrowIfNull(result);
        ClusterDiscovery discovery = result.GetValue(Discovery);
        IReadOnlyList<string> seeds = ClusterSettings.ParseSeeds(
            result.GetValue(Seeds) ?? [], Environment.GetEnvironmentVariable(ClusterSettings.SeedNodesVariable));
        if (discovery == ClusterDiscovery.SeedNodes && seeds.Count == 0)
        {
            throw new ArgumentException(
                $"No seed nodes: pass --seed HOST:PORT (this node's own address to start a new cluster) or set {ClusterSettings.SeedNodesVariable}.");
        }

        if (discovery == ClusterDiscovery.Kubernetes && seeds.Count > 0)
        {
            throw new ArgumentException("--seed and --discovery Kubernetes exclude each other: static seeds and bootstrap must not be mixed.");
        }

        return new ClusterSettings
        {
            Hostname = result.GetRequiredValue(Hostname),
            PublicHostname = result.GetValue(PublicHostname),
            Port = result.GetValue(Port),
            SeedNodes = seeds,
            Roles = roles,
            Discovery = discovery,
            ManagementPort = result.GetValue(ManagementPort),
            HealthPort = result.GetValue(HealthPort),
            StableAfter = TimeSpan.FromSeconds(result.GetValue(StableAfter)),
            DrainTimeout = drainTimeout,
        };
    }

    /// <summary>Runs a started node until it stops: SIGTERM or Ctrl-C drains it and leaves the cluster; a second signal gives batches back at once.</summary>
    /// <returns>0 after a requested stop; 1 when the cluster removed this node (downed).</returns>
    public static async Task<int> RunUntilStoppedAsync(EngineNode node, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(logger);
        int signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) == 1)
            {
                logger.LogInformation("{Signal}: no more work taken; finishing the batches in hand, then leaving the cluster", context.Signal);
                _ = node.ShutdownAsync();
            }
            else
            {
                logger.LogWarning("Second signal: giving back the batches in hand");
                node.GiveBack();
            }
        }

        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        await node.System.WhenTerminated.ConfigureAwait(false);
        if (node.ShutdownReason is Akka.Actor.CoordinatedShutdown.ClusterDowningReason)
        {
            logger.LogError("This node was removed from the cluster (downed: unreachable from the rest); it stopped. Restart it to rejoin.");
            return 1;
        }

        logger.LogInformation("Left the cluster; stopped");
        return 0;
    }
}
