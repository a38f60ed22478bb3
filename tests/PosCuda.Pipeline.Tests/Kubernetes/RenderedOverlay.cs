using System.Text;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using PosCuda.Testing;
using PosCuda.Testing.Processes;

namespace PosCuda.Pipeline.Tests.Kubernetes;

/// <summary>A deploy/k8s overlay as <c>kubectl kustomize</c> renders it: its Deployments, ConfigMaps, Secrets, Services and scaler query.</summary>
public sealed partial class RenderedOverlay
{
    private static readonly Dictionary<string, Type> s_types = new(StringComparer.Ordinal)
    {
        ["apps/v1/Deployment"] = typeof(V1Deployment),
        ["v1/ConfigMap"] = typeof(V1ConfigMap),
        ["v1/Secret"] = typeof(V1Secret),
        ["v1/Service"] = typeof(V1Service),
    };

    private RenderedOverlay(string name, string yaml, IReadOnlyList<object> objects)
    {
        Name = name;
        Yaml = yaml;
        Deployments = objects.OfType<V1Deployment>().ToList();
        ConfigMaps = objects.OfType<V1ConfigMap>().ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);
        Secrets = objects.OfType<V1Secret>().ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        Services = objects.OfType<V1Service>().ToList();
    }

    /// <summary>Every overlay under deploy/k8s/overlays.</summary>
    public static IEnumerable<string> Overlays =>
        Directory.GetDirectories(Path.Combine(RepositoryPaths.Root, "deploy", "k8s", "overlays")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    /// <summary>The overlay's name.</summary>
    public string Name { get; }

    /// <summary>The rendered YAML.</summary>
    public string Yaml { get; }

    /// <summary>Its Deployments.</summary>
    public IReadOnlyList<V1Deployment> Deployments { get; }

    /// <summary>Its ConfigMaps by name.</summary>
    public IReadOnlyDictionary<string, V1ConfigMap> ConfigMaps { get; }

    /// <summary>Its Secrets by name (the dev overlay generates some; elsewhere the operator creates them).</summary>
    public IReadOnlyDictionary<string, V1Secret> Secrets { get; }

    /// <summary>Its Services.</summary>
    public IReadOnlyList<V1Service> Services { get; }

    /// <summary>Renders <paramref name="overlay"/> with <c>kubectl kustomize</c>.</summary>
    public static async Task<RenderedOverlay> RenderAsync(string overlay)
    {
        string path = Path.Combine(RepositoryPaths.Root, "deploy", "k8s", "overlays", overlay);
        ChildProcessResult result = await ChildProcess.RunAsync(new ChildCommand("kubectl") { Arguments = ["kustomize", path] }, TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {overlay} failed: {result}");
        // Only the kinds read here are typed; the others (KEDA's CRDs and the rest) are validated by deploy/k8s/validate.
        IEnumerable<string> typed = DocumentSeparator().Split(result.StandardOutput)
            .Where(d => KindLine().Match(d) is { Success: true } m && s_types.ContainsKey(ApiVersionLine().Match(d).Groups[1].Value + "/" + m.Groups[1].Value));
        List<object> objects = KubernetesYaml.LoadAllFromString(string.Join("\n---\n", typed), s_types);
        return new RenderedOverlay(overlay, result.StandardOutput, objects);
    }

    /// <summary>The Deployment named <paramref name="name"/>.</summary>
    public V1Deployment Deployment(string name) => Assert.Single(Deployments, d => d.Metadata.Name == name);

    /// <summary>The pending-objects query of the KEDA ScaledObject (copied from the ConfigMap poscuda-scaling when rendered).</summary>
    public string ScalerQuery
    {
        get
        {
            string sql = Assert.Contains("poscuda-scaling", ConfigMaps).Data["pending-objects.sql"];
            // The ScaledObject carries the same text (kustomize replacements); check it is there, not a placeholder.
            Assert.Contains("pending_objects", Yaml[Yaml.IndexOf("kind: ScaledObject", StringComparison.Ordinal)..], StringComparison.Ordinal);
            return sql;
        }
    }

    /// <summary>The environment Kubernetes would give <paramref name="container"/>, in order, with <c>$(VAR)</c> references expanded.</summary>
    /// <param name="container">The container.</param>
    /// <param name="fieldValues">Values of downward-API fields (<c>status.podIP</c>, <c>metadata.name</c>).</param>
    /// <param name="secretValue">The value of a Secret key the overlay does not render (created by the operator), or null to leave the variable out.</param>
    public IReadOnlyDictionary<string, string> Environment(
        V1Container container, IReadOnlyDictionary<string, string> fieldValues, Func<string, string, string?> secretValue)
    {
        ArgumentNullException.ThrowIfNull(container);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (V1EnvFromSource from in container.EnvFrom ?? [])
        {
            if (from.SecretRef is { } secretRef && Secrets.TryGetValue(secretRef.Name, out V1Secret? secret))
            {
                foreach ((string key, byte[] value) in secret.Data)
                {
                    env[key] = Encoding.UTF8.GetString(value);
                }
            }
            else if (from.ConfigMapRef is { } mapRef)
            {
                foreach ((string key, string value) in Assert.Contains(mapRef.Name, ConfigMaps).Data)
                {
                    env[key] = value;
                }
            }
        }

        foreach (V1EnvVar variable in container.Env ?? [])
        {
            string? value = variable switch
            {
                { Value: { } literal } => Expand(literal, env),
                { ValueFrom.FieldRef.FieldPath: { } field } => Assert.Contains(field, fieldValues),
                { ValueFrom.ConfigMapKeyRef: { } key } => Assert.Contains(key.Key, Assert.Contains(key.Name, ConfigMaps).Data),
                { ValueFrom.SecretKeyRef: { } key } => Secrets.TryGetValue(key.Name, out V1Secret? secret)
                    ? Encoding.UTF8.GetString(Assert.Contains(key.Key, secret.Data))
                    : secretValue(key.Name, key.Key),
                _ => throw new InvalidOperationException($"{Name}: {container.Name}: env {variable.Name} has a source this test does not know"),
            };
            if (value is not null)
            {
                env[variable.Name] = value;
            }
        }

        return env;
    }

    /// <summary>Expands <c>$(VAR)</c> as Kubernetes does in command, args and env values; an undefined reference fails the test
    /// (Kubernetes would leave it as literal text).</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> env)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Reference().Replace(text, m =>
        {
            Assert.True(env.TryGetValue(m.Groups[1].Value, out string? value), $"'{text}' refers to $({m.Groups[1].Value}), which the container's environment does not define");
            return value!;
        });
    }

    /// <summary>The names <c>$(VAR)</c> references in <paramref name="texts"/>.</summary>
    public static IEnumerable<string> References(IEnumerable<string> texts) => texts.SelectMany(t => Reference().Matches(t).Select(m => m.Groups[1].Value));

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();

    [GeneratedRegex(@"^---\s*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();

    [GeneratedRegex(@"^kind: (\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex KindLine();

    [GeneratedRegex(@"^apiVersion: (\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ApiVersionLine();
}
