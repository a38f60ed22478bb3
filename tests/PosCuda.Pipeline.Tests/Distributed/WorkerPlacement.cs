namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>Where a worker node runs and how it reaches the rest: for a node on another host (a network namespace) these all differ from the test's own.</summary>
/// <param name="Hostname">The address it binds and advertises to the cluster.</param>
/// <param name="LedgerLocation">Its ledger connection string.</param>
/// <param name="S3Endpoint">Its S3 endpoint.</param>
/// <param name="Launcher">The command that runs <c>dotnet</c> there (e.g. <c>ip netns exec NS</c>), or null to run it here.</param>
public sealed record WorkerPlacement(string Hostname, string LedgerLocation, Uri S3Endpoint, IReadOnlyList<string>? Launcher = null);
