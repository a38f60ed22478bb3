using k8s.Models;

namespace PosCuda.Pipeline.Tests.Kubernetes;

/// <summary>A Deployment or StatefulSet: what a test needs of either.</summary>
/// <param name="Kind">Deployment or StatefulSet.</param>
/// <param name="Metadata">Its metadata.</param>
/// <param name="Template">Its pod template.</param>
/// <param name="Replicas">Its replica count.</param>
/// <param name="ServiceName">A StatefulSet's governing Service; null for a Deployment.</param>
public sealed record Workload(string Kind, V1ObjectMeta Metadata, V1PodTemplateSpec Template, int? Replicas, string? ServiceName)
{
    /// <summary>The name of a pod it runs: ordinal <paramref name="ordinal"/> of a StatefulSet, a made-up one of a Deployment.</summary>
    public string PodName(int ordinal) => Kind == "StatefulSet" ? $"{Metadata.Name}-{ordinal}" : $"{Metadata.Name}-5d8f7c9b4-x{ordinal}";
}
