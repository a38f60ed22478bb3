using System.Text.Json;
using k8s.Models;
using PosCuda.Testing.Processes;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Kubernetes;

/// <summary>The rendered manifests and the binaries cannot drift apart: every container of every overlay that runs
/// <c>poscuda-worker</c> or <c>poscuda coordinator</c> is run with its command line and environment plus <c>--check-config</c>,
/// and its ports, probes, mounts, variables and grace period are checked against what the binary reports.</summary>
public sealed class ManifestDriftTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> s_fields = new(StringComparer.Ordinal)
    {
        ["status.podIP"] = "10.1.2.3",
        ["metadata.name"] = "poscuda-pod-0",
    };

    public static TheoryData<string> Overlays => new(RenderedOverlay.Overlays);

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_EveryNodeContainer_MatchesWhatItsBinaryAccepts(string overlay)
    {
        RenderedOverlay rendered = await RenderedOverlay.RenderAsync(overlay);
        int checkedContainers = 0;
        foreach (V1Deployment deployment in rendered.Deployments)
        {
            V1PodSpec pod = deployment.Spec.Template.Spec;
            foreach (V1Container container in pod.Containers.Where(c => c.Command?.FirstOrDefault() is "/app/poscuda-worker" or "/app/poscuda"))
            {
                await CheckAsync(rendered, deployment, container);
                checkedContainers++;
            }
        }

        // Every overlay runs coordinators and workers (the gpu overlay a second, GPU pool).
        Assert.Equal(overlay == "gpu" ? 3 : 2, checkedContainers);
    }

    private async Task CheckAsync(RenderedOverlay rendered, V1Deployment deployment, V1Container container)
    {
        string what = $"{rendered.Name}: {deployment.Metadata.Name}/{container.Name}";
        V1PodSpec pod = deployment.Spec.Template.Spec;
        IReadOnlyDictionary<string, string> env = rendered.Environment(container, s_fields, (_, _) => "postgres://poscuda:stand-in@ledger.example:5432/poscuda");

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
        string component = deployment.Spec.Template.Metadata.Labels["app.kubernetes.io/component"];
        string[] roles = root.GetProperty("roles").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(component switch { "coordinator" => ["coordinator"], "worker" => ["worker"], "gpu-worker" => ["worker", "gpu"], _ => [] }, roles);
        if (component == "gpu-worker")
        {
            Assert.Equal("cuda", root.GetProperty("device").GetString());
        }

        Assert.Equal("Kubernetes", root.GetProperty("discovery").GetString());
        string[] selector = root.GetProperty("podSelector").GetString()!.Split('=');
        Assert.Equal(selector[1], deployment.Spec.Template.Metadata.Labels[selector[0]]);

        // Ports: the names the Service and the probes use carry the ports the node listens on.
        V1ContainerPort remote = Assert.Single(container.Ports, p => p.Name == "akka-remote");
        V1ContainerPort management = Assert.Single(container.Ports, p => p.Name == "management");
        Assert.Equal(root.GetProperty("port").GetInt32(), remote.ContainerPort);
        Assert.Equal(root.GetProperty("managementPort").GetInt32(), management.ContainerPort);
        Assert.Equal(root.GetProperty("healthPort").GetInt32(), Assert.Single(container.Ports, p => p.Name == "health").ContainerPort);
        V1Service service = Assert.Single(rendered.Services, s => s.Metadata.Name == "poscuda");
        Assert.Equal("None", service.Spec.ClusterIP);
        foreach (V1ServicePort port in service.Spec.Ports)
        {
            Assert.Contains(container.Ports, p => p.Name == port.TargetPort.Value);
        }

        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, deployment.Spec.Template.Metadata.Labels[s.Key]));

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
