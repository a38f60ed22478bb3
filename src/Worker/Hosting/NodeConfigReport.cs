using System.Text;
using System.Text.Json;
using PosCuda.Engine.Hosting;

namespace PosCuda.Worker.Hosting;

/// <summary>What <c>--check-config</c> prints: the settings a cluster node would run with, as JSON, with no secret in it.</summary>
/// <remarks>
/// Deployment manifests are checked against it (the drift test renders the Kubernetes manifests, runs each container's command line
/// with <c>--check-config</c> and compares ports, probes, mounts and environment with this report).
/// </remarks>
public static class NodeConfigReport
{
    /// <summary>The environment variables a node reads (a trailing <c>*</c> is a prefix): its own, the AWS SDK's, OpenTelemetry's, the .NET runtime's.</summary>
    public static IReadOnlyList<string> EnvironmentVariables { get; } =
        ["POSCUDA_LEDGER", ClusterSettings.SeedNodesVariable, "AWS_*", "OTEL_*", "DOTNET_*"];

    /// <summary>Writes the report.</summary>
    /// <param name="tool">The command (<c>poscuda-worker</c>, <c>poscuda coordinator</c>).</param>
    /// <param name="cluster">The node's cluster settings.</param>
    /// <param name="ledger">The ledger location, described without its password.</param>
    /// <param name="roleFields">The role's own settings.</param>
    public static string Write(string tool, ClusterSettings cluster, string ledger, Action<Utf8JsonWriter> roleFields)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(roleFields);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("tool", tool);
            WriteStrings(json, "roles", cluster.Roles);
            json.WriteString("hostname", cluster.Hostname);
            json.WriteString("publicHostname", cluster.PublicHostname);
            json.WriteNumber("port", cluster.Port);
            json.WriteString("discovery", cluster.Discovery.ToString());
            WriteStrings(json, "seeds", cluster.SeedNodes);
            json.WriteString("podSelector", cluster.Discovery == ClusterDiscovery.Kubernetes ? cluster.KubernetesPodSelector : null);
            json.WriteNumber("managementPort", cluster.ManagementHttpPort);
            json.WriteNumber("healthPort", cluster.HealthPort);
            json.WriteStartObject("healthChecks");
            json.WriteString("liveness", cluster.HealthPort > 0 ? NodeHealth.AlivePath : null);
            json.WriteString("readiness", cluster.HealthPort > 0 ? NodeHealth.ReadyPath : null);
            json.WriteEndObject();
            json.WriteNumber("stableAfterSeconds", cluster.StableAfter.TotalSeconds);
            json.WriteNumber("drainSeconds", cluster.DrainTimeout.TotalSeconds);
            json.WriteNumber("shutdownSeconds", EngineConfig.ShutdownBudget(cluster).TotalSeconds);
            json.WriteString("ledger", ledger);
            roleFields(json);
            WriteStrings(json, "environment", EnvironmentVariables);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
