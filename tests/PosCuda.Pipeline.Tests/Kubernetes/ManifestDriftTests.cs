using System.Text.Json;
using k8s.Models;
using PosCuda.Testing.Processes;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Kubernetes;

/// <summary>The rendered manifests and the binaries cannot drift apart: every container of every overlay that runs
/// <c>poscuda-worker</c> or <c>poscuda coordinator</c> is run with its command line and environment plus <c>--check-config</c>,
/// and its ports, probes, mounts, variables, seed nodes, advertised address and grace period are checked against what the binary reports.</summary>
public sealed class ManifestDriftTests(ITestOutputHelper output)
{
    private const string PodIp = "10.1.2.3";

    public static TheoryData<string> Overlays => new(RenderedOverlay.Overlays);

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_EveryNodeContainer_MatchesWhatItsBinaryAccepts(string overlay)
    {
        RenderedOverlay rendered = await RenderedOverlay.RenderAsync(overlay);
        int checkedContainers = 0;
        foreach (Workload workload in rendered.Workloads)
        {
            V1PodSpec pod = workload.Template.Spec;
            foreach (V1Container container in pod.Containers.Where(c => c.Command?.FirstOrDefault() is "/app/poscuda-worker" or "/app/poscuda"))
            {
                await CheckAsync(rendered, workload, container);
                checkedContainers++;
            }
        }

        // Every overlay runs coordinators and workers (the gpu overlay a second, GPU pool).
        Assert.Equal(overlay == "gpu" ? 3 : 2, checkedContainers);
    }

    private async Task CheckAsync(RenderedOverlay rendered, Workload workload, V1Container container)
    {
        string what = $"{rendered.Name}: {workload.Kind} {workload.Metadata.Name}/{container.Name}";
        V1PodSpec pod = workload.Template.Spec;
        IReadOnlyDictionary<string, string> env = rendered.Environment(container, Fields(workload, 0), (_, _) => "postgres://poscuda:stand-in@ledger.example:5432/poscuda");

        // Every variable is read by the binary or used in the command line ($(VAR)); nothing is set for nothing.
        var referenced = RenderedOverlay.References([.. container.Command, .. container.Args ?? [], .. (container.Env ?? []).Select(e => e.Value ?? "")]).ToHashSet(StringComparer.Ordinal);
        string tool = container.Command[0] == "/app/poscuda-worker" ? PoscudaTool.Worker : PoscudaTool.Poscuda;
        string[] arguments = [.. container.Command.Skip(1), .. (container.Args ?? []).Select(a => RenderedOverlay.Expand(a, env)), "--check-config"];
        ChildProcessResult result = await ChildProcess.RunAsync(PoscudaTool.Command(tool, arguments, env.ToDictionary()), TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"{what}: {tool} {string.Join(' ', arguments)} refused its manifest's command line: {result}");
        using JsonDocument report = JsonDocument.Parse(result.StandardOutput);
        JsonElement root = report.RootElement;
        output.WriteLine($"{what}: {tool} accepts it; roles {root.GetProperty("roles")}, shutdown {root.GetProperty("shutdownSeconds")} s, grace {pod.TerminationGracePeriodSeconds} s");

        string[] readsPatterns = root.GetProperty("environment").EnumerateArray().Select(e => e.GetString()!).ToArray();
        foreach (string name in (container.Env ?? []).Select(e => e.Name))
        {
            bool read = readsPatterns.Any(p => p.EndsWith('*') ? name.StartsWith(p[..^1], StringComparison.Ordinal) : name == p);
            Assert.True(read || referenced.Contains(name), $"{what}: env {name} is neither read by {tool} nor used in its command line");
        }

        // Roles and discovery.
        string component = workload.Template.Metadata.Labels["app.kubernetes.io/component"];
        string[] roles = root.GetProperty("roles").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(component switch { "coordinator" => ["coordinator"], "worker" => ["worker"], "gpu-worker" => ["worker", "gpu"], _ => [] }, roles);
        if (component == "gpu-worker")
        {
            Assert.Equal("cuda", root.GetProperty("device").GetString());
        }

        if (component is "worker" or "gpu-worker")
        {
            // The GPU pool takes larger leases (merged batches) for larger launches; CPU workers take batches as planned.
            Assert.Equal(component == "gpu-worker" ? PosCuda.Engine.Hosting.WorkerSettings.GpuClaimObjects : 0, root.GetProperty("claimObjects").GetInt32());
        }

        // The cluster forms from seed nodes, the same on every node: the coordinator pods' stable names, coordinator-0 (which
        // forms the cluster) first. No Akka.Management bootstrap, no management port, no API token.
        Assert.Equal("SeedNodes", root.GetProperty("discovery").GetString());
        Assert.Equal(0, root.GetProperty("managementPort").GetInt32());
        Assert.False(pod.AutomountServiceAccountToken, $"{what}: mounts a Kubernetes API token nothing uses");
        IReadOnlyList<string> stable = rendered.StableAddresses(CoordinatorSet);
        Assert.Equal(2, stable.Count);
        Assert.Equal(stable, root.GetProperty("seeds").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // Ports: the names the Service and the probes use carry the ports the node listens on.
        V1ContainerPort remote = Assert.Single(container.Ports, p => p.Name == "akka-remote");
        Assert.Equal(root.GetProperty("port").GetInt32(), remote.ContainerPort);
        Assert.DoesNotContain(container.Ports, p => p.Name == "management");
        Assert.Equal(root.GetProperty("healthPort").GetInt32(), Assert.Single(container.Ports, p => p.Name == "health").ContainerPort);
        Assert.Equal(PodIp, root.GetProperty("hostname").GetString());
        if (component == "coordinator")
        {
            // Each coordinator advertises exactly its own seed address (else coordinator-0 would not know itself as the first seed and
            // the others would not recognise it), through the StatefulSet's headless Service, which resolves not-ready pods too.
            Assert.Equal("StatefulSet", workload.Kind);
            Assert.Equal(CoordinatorSet, workload.Metadata.Name);
            Assert.Equal(stable[0], $"{root.GetProperty("publicHostname").GetString()}:{root.GetProperty("port").GetInt32()}");
            for (int ordinal = 1; ordinal < workload.Replicas; ordinal++)
            {
                IReadOnlyDictionary<string, string> other = rendered.Environment(container, Fields(workload, ordinal), (_, _) => "stand-in");
                string advertised = Assert.Single((container.Args ?? []).Select(a => RenderedOverlay.Expand(a, other)), a => a.StartsWith("--public-hostname=", StringComparison.Ordinal));
                Assert.Equal(stable[ordinal], $"{advertised["--public-hostname=".Length..]}:{remote.ContainerPort}");
            }

            V1Service service = Assert.Single(rendered.Services, s => s.Metadata.Name == workload.ServiceName);
            Assert.Equal("None", service.Spec.ClusterIP);
            Assert.True(service.Spec.PublishNotReadyAddresses);
            foreach (V1ServicePort port in service.Spec.Ports)
            {
                Assert.Contains(container.Ports, p => p.Name == port.TargetPort.Value);
            }

            Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, workload.Template.Metadata.Labels[s.Key]));
        }
        else
        {
            // A worker advertises its pod IP (it binds it): nothing seeds from it, and it has no stable name.
            Assert.Equal(JsonValueKind.Null, root.GetProperty("publicHostname").ValueKind);
            Assert.Equal("Deployment", workload.Kind);
        }

        // Probes: the routes the binary serves, on its health port.
        JsonElement health = root.GetProperty("healthChecks");
        foreach ((V1Probe probe, string route) in new[]
                 {
                     (container.StartupProbe, "liveness"), (container.LivenessProbe, "liveness"), (container.ReadinessProbe, "readiness"),
                 })
        {
            Assert.NotNull(probe);
            Assert.Equal(health.GetProperty(route).GetString(), probe.HttpGet.Path);
            Assert.Equal("health", probe.HttpGet.Port.Value);
        }

        // Shutdown: the pod's grace period outlasts every coordinated-shutdown phase (the drain, which covers the worst batch, included).
        double shutdown = root.GetProperty("shutdownSeconds").GetDouble();
        Assert.True(pod.TerminationGracePeriodSeconds > shutdown, $"{what}: terminationGracePeriodSeconds {pod.TerminationGracePeriodSeconds} does not exceed the shutdown phases' {shutdown} s");

        // Non-root, read-only root filesystem, no privileges.
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Contains("ALL", container.SecurityContext.Capabilities.Drop);

        if (tool == PoscudaTool.Worker)
        {
            CheckKeyring(what, pod, container, root.GetProperty("keyring").GetString()!);
        }

        CheckImage(what, pod, container);
    }

    private const string CoordinatorSet = "poscuda-coordinator";

    // The downward-API fields of pod ORDINAL of the workload.
    private static Dictionary<string, string> Fields(Workload workload, int ordinal) => new(StringComparer.Ordinal)
    {
        ["status.podIP"] = PodIp,
        ["metadata.name"] = workload.PodName(ordinal),
        ["metadata.namespace"] = workload.Metadata.NamespaceProperty,
    };

    // The image the container names is built by deploy/docker/Dockerfile.ROLE, whose entry point is the container's command and
    // whose user is the pod's.
    private static void CheckImage(string what, V1PodSpec pod, V1Container container)
    {
        string image = container.Image[(container.Image.LastIndexOf('/') + 1)..];
        image = image.Contains(':', StringComparison.Ordinal) ? image[..image.IndexOf(':', StringComparison.Ordinal)] : image;
        Assert.StartsWith("poscuda-", image, StringComparison.Ordinal);
        string dockerfile = Path.Combine(PosCuda.Testing.RepositoryPaths.Root, "deploy", "docker", "Dockerfile." + image["poscuda-".Length..]);
        Assert.True(File.Exists(dockerfile), $"{what}: image {container.Image} has no {dockerfile}");
        string[] lines = File.ReadAllLines(dockerfile);
        Assert.Contains($"ENTRYPOINT [\"{container.Command[0]}\"]", lines);
        Assert.Contains($"USER {pod.SecurityContext.RunAsUser}:{pod.SecurityContext.RunAsGroup}", lines);
        Assert.All(pod.InitContainers ?? [], init => Assert.Equal(container.Image, init.Image));
    }

    // The keyring: the Secret is mounted 0400 into the init container, which copies it 0400 into the memory volume the worker
    // reads it from, at the path the worker's --keyring names.
    private static void CheckKeyring(string what, V1PodSpec pod, V1Container container, string keyringPath)
    {
        V1VolumeMount mount = Assert.Single(container.VolumeMounts, m => keyringPath.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
        V1Volume copied = Assert.Single(pod.Volumes, v => v.Name == mount.Name);
        Assert.Equal("Memory", copied.EmptyDir?.Medium);
        V1Container init = Assert.Single(pod.InitContainers, c => c.VolumeMounts.Any(m => m.Name == copied.Name));
        V1VolumeMount secretMount = Assert.Single(init.VolumeMounts, m => pod.Volumes.Single(v => v.Name == m.Name).Secret is not null);
        V1SecretVolumeSource secret = pod.Volumes.Single(v => v.Name == secretMount.Name).Secret;
        Assert.Equal("poscuda-keyring", secret.SecretName);
        Assert.Equal(Convert.ToInt32("400", 8), secret.DefaultMode);
        V1KeyToPath item = Assert.Single(secret.Items);
        Assert.Equal(
            ["/usr/bin/install", "-m", "0400", secretMount.MountPath + "/" + item.Path, keyringPath],
            init.Command);
        Assert.True(mount.ReadOnlyProperty, $"{what}: the keyring volume is writable by the worker");
    }
}
