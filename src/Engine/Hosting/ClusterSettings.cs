namespace PosCuda.Engine.Hosting;

/// <summary>How a node joins the cluster: where it listens, how it finds the others, what it does there.</summary>
public sealed record ClusterSettings
{
    /// <summary>The role of nodes that host the job coordinator singleton and the class shards.</summary>
    public const string CoordinatorRole = "coordinator";

    /// <summary>The role of nodes that process batches.</summary>
    public const string WorkerRole = "worker";

    /// <summary>The role added to workers with a GPU.</summary>
    public const string GpuRole = "gpu";

    /// <summary>The actor system's name: every node of a cluster must use the same.</summary>
    public const string SystemName = "poscuda";

    /// <summary>The environment variable with static seed nodes (<c>HOST:PORT,HOST:PORT</c>).</summary>
    public const string SeedNodesVariable = "POSCUDA_SEED_NODES";

    /// <summary>The address this node binds (and, unless <see cref="PublicHostname"/> is set, advertises).</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>The address other nodes reach this one at, when it differs from the bound one (NAT, pods).</summary>
    public string? PublicHostname { get; init; }

    /// <summary>The remoting port; 0 takes any free port.</summary>
    public int Port { get; init; }

    /// <summary>Static seed nodes as <c>HOST:PORT</c>; empty with <see cref="Discovery"/> set to Kubernetes.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>This node's roles.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>How the cluster forms.</summary>
    public ClusterDiscovery Discovery { get; init; } = ClusterDiscovery.SeedNodes;

    /// <summary>The Akka.Management HTTP port (cluster bootstrap and health checks); 0 leaves it off unless Kubernetes discovery needs it.</summary>
    public int ManagementPort { get; init; }

    /// <summary>The port of the HTTP endpoint for liveness and readiness probes (<c>/alive</c>, <c>/ready</c>); 0 = none.</summary>
    public int HealthPort { get; init; }

    /// <summary>The management port to listen on: <see cref="ManagementPort"/>, or 8558 under Kubernetes discovery when it is 0; 0 = no HTTP endpoint.</summary>
    public int ManagementHttpPort => ManagementPort > 0 ? ManagementPort : Discovery == ClusterDiscovery.Kubernetes ? DefaultManagementPort : 0;

    /// <summary>Akka.Management's conventional HTTP port.</summary>
    public const int DefaultManagementPort = 8558;

    /// <summary>The pod label selector Kubernetes discovery looks for (<c>app=poscuda</c> by default).</summary>
    public string KubernetesPodSelector { get; init; } = "app=poscuda";

    /// <summary>How long the split brain resolver waits for a stable view before downing the unreachable side.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a node may miss heartbeats before it is unreachable.</summary>
    public TimeSpan AcceptableHeartbeatPause { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The longest a worker's drain (finishing batches in hand on SIGTERM) may take before they are given back.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Serialise every message, local ones too.</summary>
    /// <remarks>
    /// For actor tests in one process only: in Akka.NET 1.5.75 the cluster's own events (<c>ReachabilityChanged</c>) cannot be
    /// serialised, and a cluster node running with it on loses them and makes wrong split brain decisions.
    /// </remarks>
    public bool SerializeAllMessages { get; init; }

    /// <summary>Parses <c>HOST:PORT</c> seeds from the command line or <see cref="SeedNodesVariable"/>.</summary>
    /// <exception cref="ArgumentException">A seed is not HOST:PORT.</exception>
    public static IReadOnlyList<string> ParseSeeds(IEnumerable<string> fromOptions, string? fromEnvironment)
    {
        var seeds = fromOptions.Concat((fromEnvironment ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        foreach (string seed in seeds)
        {
            int colon = seed.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(seed.AsSpan(colon + 1), out int port) || port is < 1 or > 65535)
            {
                throw new ArgumentException($"Seed node '{seed}' is not HOST:PORT.");
            }
        }

        return seeds.Distinct(StringComparer.Ordinal).ToList();
    }
}

/// <summary>How the nodes of a cluster find each other.</summary>
public enum ClusterDiscovery
{
    /// <summary>Static seed nodes (<c>--seed</c>, <see cref="ClusterSettings.SeedNodesVariable"/>): local and test clusters.</summary>
    SeedNodes,

    /// <summary>Akka.Management cluster bootstrap over the Kubernetes API (pods with the selector's labels).</summary>
    Kubernetes,
}
