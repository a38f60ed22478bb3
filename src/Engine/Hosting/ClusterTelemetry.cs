using System.Diagnostics.Metrics;
using Akka.Cluster;
using PosCuda.Engine.Actors;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Hosting;

/// <summary>The cluster's gauges, read from this node's view of the membership when a metric reader collects.</summary>
public static class ClusterTelemetry
{
    private static Cluster? s_cluster;

    /// <summary>Cluster members as this node sees them, by status (<c>up</c>, <c>unreachable</c>, <c>joining</c>, <c>leaving</c>...).</summary>
    public static readonly ObservableGauge<long> Members = PipelineTelemetry.Meter.CreateObservableGauge(
        "poscuda.cluster.members", ObserveMembers, "{node}", "Members of the Akka.NET cluster as this node sees them, by status.");

    /// <summary>Batches in hand on this node.</summary>
    public static readonly ObservableGauge<int> BatchesInFlight = PipelineTelemetry.Meter.CreateObservableGauge(
        "poscuda.batches.in_flight", () => BatchWorker.BatchesInFlight, "{batch}", "Batches this node's worker slots hold now.");

    /// <summary>Reports <paramref name="cluster"/>'s membership from now on.</summary>
    public static void Observe(Cluster cluster) => s_cluster = cluster;

    private static IEnumerable<Measurement<long>> ObserveMembers()
    {
        if (s_cluster is not { } cluster)
        {
            yield break;
        }

        ClusterEvent.CurrentClusterState state = cluster.State;
        var unreachable = state.Unreachable.ToHashSet();
        foreach (IGrouping<string, Member> group in state.Members.GroupBy(m => unreachable.Contains(m) ? "unreachable" : m.Status.ToString().ToLowerInvariant()))
        {
            yield return new Measurement<long>(group.LongCount(), new KeyValuePair<string, object?>("poscuda.member.status", group.Key));
        }
    }
}
