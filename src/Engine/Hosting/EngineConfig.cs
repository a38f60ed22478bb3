using System.Globalization;
using System.Text;
using Akka.Cluster.Sharding;
using Akka.Configuration;

namespace PosCuda.Engine.Hosting;

/// <summary>The HOCON of the engine's actor system, built from settings (one place for every Akka.NET setting the project relies on).</summary>
public static class EngineConfig
{
    // A grant carries up to a batch of object keys (S3 allows 1 KiB each): larger than Akka's default 128 kB frame.
    private const string FrameSize = "4194304b";

    /// <summary>The configuration of a cluster node.</summary>
    public static Config Cluster(ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var hocon = new StringBuilder();
        hocon.AppendLine(Common(settings.SerializeAllMessages, "cluster", "INFO"));
        string seeds = string.Join(", ", settings.SeedNodes.Select(s => Quote($"akka.tcp://{ClusterSettings.SystemName}@{s}")));
        string roles = string.Join(", ", settings.Roles.Select(Quote));
        string drainPhase = Seconds(settings.DrainTimeout + TimeSpan.FromSeconds(15));
        hocon.AppendLine(CultureInfo.InvariantCulture, $$"""
            akka.remote.dot-netty.tcp {
              hostname = {{Quote(settings.Hostname)}}
              {{(settings.PublicHostname is { } pub ? "public-hostname = " + Quote(pub) : "")}}
              port = {{settings.Port}}
              maximum-frame-size = {{FrameSize}}
              send-buffer-size = 8388608b
              receive-buffer-size = 8388608b
            }
            akka.cluster {
              roles = [{{roles}}]
              seed-nodes = [{{seeds}}]
              # Split brain resolver: keep-oldest over all nodes, down-if-alone (docs/architecture.md says why not keep-majority,
              # and why not counted over the coordinator role).
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver {
                active-strategy = keep-oldest
                stable-after = {{Seconds(settings.StableAfter)}}
                keep-oldest {
                  down-if-alone = on
                  role = ""
                }
              }
              failure-detector {
                heartbeat-interval = 1s
                acceptable-heartbeat-pause = {{Seconds(settings.AcceptableHeartbeatPause)}}
              }
              run-coordinated-shutdown-when-down = on
              sharding {
                role = "{{ClusterSettings.CoordinatorRole}}"
                state-store-mode = ddata
                remember-entities = off
                distributed-data.durable.keys = []
                handoff-timeout = 20s
              }
              singleton.role = "{{ClusterSettings.CoordinatorRole}}"
              singleton-proxy.role = "{{ClusterSettings.CoordinatorRole}}"
            }
            akka.coordinated-shutdown.phases.before-cluster-shutdown.timeout = {{drainPhase}}
            """);
        if (settings.Discovery == ClusterDiscovery.Kubernetes || settings.ManagementPort > 0)
        {
            hocon.AppendLine(CultureInfo.InvariantCulture, $$"""
                akka.management.http {
                  hostname = {{Quote(settings.PublicHostname ?? settings.Hostname)}}
                  port = {{settings.ManagementHttpPort}}
                  bind-hostname = "0.0.0.0"
                }
                akka.management.cluster.bootstrap.contact-point-discovery {
                  discovery-method = kubernetes-api
                  required-contact-point-nr = 2
                }
                akka.discovery.kubernetes-api.pod-label-selector = {{Quote(settings.KubernetesPodSelector)}}
                """);
        }

        return ConfigurationFactory.ParseString(hocon.ToString());
    }

    /// <summary>The longest coordinated shutdown of a node with <paramref name="settings"/> can take: the sum of every phase's timeout.</summary>
    /// <remarks>
    /// Phases run one after another and each waits up to its timeout for its tasks, so this bounds the time from SIGTERM to exit.
    /// Read from the configuration the node runs with (this engine's, over Akka.Cluster.Sharding's, Akka.Cluster's and Akka's
    /// reference configurations). With Akka.NET 1.5.75: <c>before-cluster-shutdown</c> is the drain plus 15 s, three phases
    /// (<c>cluster-sharding-shutdown-region</c>, <c>cluster-exiting</c>, <c>actor-system-terminate</c>) take 10 s, eight more the default
    /// 5 s: drain + 85 s. A pod's <c>terminationGracePeriodSeconds</c> must exceed it (deploy/k8s; the drift test checks it).
    /// </remarks>
    public static TimeSpan ShutdownBudget(ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Config config = Cluster(settings)
            .WithFallback(ClusterSharding.DefaultConfig())
            .WithFallback(ConfigurationFactory.FromResource<Akka.Cluster.Cluster>("Akka.Cluster.Configuration.Cluster.conf"))
            .WithFallback(ConfigurationFactory.Default());
        Config shutdown = config.GetConfig("akka.coordinated-shutdown");
        TimeSpan phaseDefault = shutdown.GetTimeSpan("default-phase-timeout");
        TimeSpan total = TimeSpan.Zero;
        foreach (string phase in shutdown.GetConfig("phases").Root.GetObject().Items.Keys)
        {
            Config settingsOfPhase = shutdown.GetConfig("phases." + phase);
            if (settingsOfPhase.GetBoolean("enabled", true))
            {
                total += settingsOfPhase.GetTimeSpan("timeout", phaseDefault);
            }
        }

        return total;
    }

    /// <summary>The configuration of the one-process engine of <c>poscuda protect</c>: no remoting, no listening port.</summary>
    public static Config Local(bool serializeAllMessages = false)
        => ConfigurationFactory.ParseString(Common(serializeAllMessages, "local", "WARNING"));

    private static string Common(bool serializeAllMessages, string provider, string logLevel) => $$"""
        akka {
          loglevel = {{logLevel}}
          stdout-loglevel = WARNING
          loggers = ["PosCuda.Engine.Hosting.StderrLogger, PosCuda.Engine"]
          log-dead-letters = 0
          log-dead-letters-during-shutdown = off
          actor {
            provider = {{provider}}
            serialize-messages = {{(serializeAllMessages ? "on" : "off")}}
            serializers.poscuda = "PosCuda.Engine.Protocol.EngineSerializer, PosCuda.Engine"
            serialization-bindings {
              "PosCuda.Engine.Protocol.IEngineMessage, PosCuda.Engine" = poscuda
            }
          }
          coordinated-shutdown.run-by-clr-shutdown-hook = off
        }
        """;

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
