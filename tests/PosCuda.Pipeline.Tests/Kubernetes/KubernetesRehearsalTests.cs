using System.Diagnostics;
using System.Net;
using System.Text.Json;
using k8s.Models;
using Npgsql;
using PosCuda.Coordinator.Cli;
using PosCuda.Pipeline.Tests.Distributed;
using PosCuda.Shared.Ledger;
using PosCuda.Testing;
using PosCuda.Testing.Network;
using PosCuda.Testing.Postgres;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Storage;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Kubernetes;

/// <summary>What Kubernetes does with the dev overlay, rehearsed with real processes on this machine: each node is started with the
/// command line and environment its rendered StatefulSet or Deployment gives it, seed nodes included; only what a pod has and this
/// machine lacks is substituted (each coordinator's stable name by 127.0.0.1 and a free port, wherever it appears; the test's
/// ledger, store and keyring).</summary>
[Collection(PostgresServer.CollectionName)]
public sealed class KubernetesRehearsalTests(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    : DistributedTestBase(postgres, fixture, output), IAsyncLifetime
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<ChildProcess> _nodes = [];

    [Fact]
    public async Task DevOverlay_TwoCoordinatorsThreeWorkersScaledInBySigtermToOne_JobCompletesWithEveryObjectCorrect()
    {
        RenderedOverlay dev = await RenderedOverlay.RenderAsync("dev");
        Workload workers = Assert.Single(dev.Workloads, w => w.Metadata.Name == "poscuda-worker");
        Workload coordinators = Assert.Single(dev.Workloads, w => w.Metadata.Name == "poscuda-coordinator");
        Assert.Equal(2, coordinators.Replicas);
        long grace = workers.Template.Spec.TerminationGracePeriodSeconds!.Value;
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres, copies: 3, batchSize: 5);
        // Every request held 500 ms: the job lasts long enough to scale in while it runs.
        await using var slow = FaultInjectingProxy.Slow(Fixture.Moto.Endpoint, TimeSpan.FromMilliseconds(500));

        // KEDA's query over the ledger: every object is pending before any worker starts.
        Assert.Equal(300, await PendingObjectsAsync(job, dev.ScalerQuery));

        Dictionary<string, string> seeds = dev.StableAddresses("poscuda-coordinator").ToDictionary(a => a, _ => $"127.0.0.1:{Loopback.FreePort()}", StringComparer.Ordinal);

        // A worker started before any coordinator is alive but not ready: it has not joined a cluster.
        (ChildProcess first, int firstHealth) = StartNode(dev, workers, "poscuda-worker-1", Loopback.FreePort(), seeds, job, slow.Endpoint);
        await WaitForProbeAsync(first, firstHealth, "/alive", HttpStatusCode.OK);
        (HttpStatusCode notJoined, string why) = await ProbeAsync(firstHealth, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notJoined);
        Assert.Contains("not an Up member", why, StringComparison.Ordinal);

        // podManagementPolicy Parallel: the coordinators start in any order; coordinator-1 first here, and it waits for the first seed.
        var started = new List<(ChildProcess Node, int Health)> { (first, firstHealth) };
        started.Add(StartNode(dev, coordinators, "poscuda-coordinator-1", 0, seeds, job, Fixture.Moto.Endpoint));
        started.Add(StartNode(dev, coordinators, "poscuda-coordinator-0", 0, seeds, job, Fixture.Moto.Endpoint));
        started.Add(StartNode(dev, workers, "poscuda-worker-2", Loopback.FreePort(), seeds, job, slow.Endpoint));
        started.Add(StartNode(dev, workers, "poscuda-worker-3", Loopback.FreePort(), seeds, job, slow.Endpoint));
        foreach ((ChildProcess node, int health) in started)
        {
            await WaitForProbeAsync(node, health, "/ready", HttpStatusCode.OK);
        }

        Output.WriteLine("2 coordinators and 3 workers ready (each answered GET /ready with 200)");
        // coordinator-0, the first seed, formed the cluster (so the oldest node is a coordinator); nobody else did.
        Assert.Contains(started[2].Node.Output, line => line.Contains("is JOINING itself", StringComparison.Ordinal));
        Assert.All(started.Where(s => s.Node != started[2].Node), s => Assert.DoesNotContain(s.Node.Output, line => line.Contains("is JOINING itself", StringComparison.Ordinal)));
        await job.WaitForAsync(s => StatusCommand.Summarise(s).Done >= 30, TimeSpan.FromSeconds(120), "the workers to make progress");

        // Scale in as the autoscaler would: SIGTERM to one pod, then another; each drains, leaves and exits 0 within the grace period.
        foreach (ChildProcess worker in new[] { started[4].Node, started[3].Node })
        {
            long doneBefore = StatusCommand.Summarise(await job.StatusAsync()).Done;
            var clock = Stopwatch.StartNew();
            Assert.True(worker.Signal(UnixSignal.Terminate));
            int code = await worker.WaitForExitAsync(TimeSpan.FromSeconds(grace));
            Output.WriteLine($"{worker.Name}: SIGTERM at {doneBefore}/300 done; exit {code} after {clock.Elapsed.TotalSeconds:0.0} s (grace period {grace} s)");
            Assert.Equal(0, code);
            Assert.Contains(worker.Output, line => line.Contains("no more work taken", StringComparison.Ordinal));
        }

        JobStatus status = await job.WaitCompletedAsync(TimeSpan.FromSeconds(240));
        StatusCommand.Totals totals = StatusCommand.Summarise(status);
        Output.WriteLine($"completed with one worker left: {totals.Done} done, {totals.Failed} failed, {totals.Retries} retries");
        Assert.Equal((300L, 0L, 0L), (totals.Done, totals.Failed, totals.Dead));
        // Drained, not abandoned: no batch was given back or redone (on failure, what the nodes said of lost workers and leases).
        Assert.True(totals.Retries == 0, $"{totals.Retries} retries: " + string.Join(
            Environment.NewLine,
            started.SelectMany(s => s.Node.Output.Where(l => l.Contains("is gone", StringComparison.Ordinal) || l.Contains("Reassigned", StringComparison.Ordinal)
                || l.Contains("lease", StringComparison.OrdinalIgnoreCase)).Select(l => $"{s.Node.Name}: {l}"))));
        await job.AssertOutputsAsync();
        await job.AssertMetadataAsync();
        Assert.Equal(0, await PendingObjectsAsync(job, dev.ScalerQuery));
        Assert.False(first.HasExited, first.Describe());

        // coordinator-0 (the oldest, the first seed) restarts while coordinator-1 holds the cluster: it asks the other seed first and
        // joins the running cluster through it instead of forming a second one.
        ChildProcess seed0 = started[2].Node;
        var restart = Stopwatch.StartNew();
        Assert.True(seed0.Signal(UnixSignal.Terminate));
        Assert.Equal(0, await seed0.WaitForExitAsync(TimeSpan.FromSeconds(coordinators.Template.Spec.TerminationGracePeriodSeconds!.Value)));
        Output.WriteLine($"coordinator-0: SIGTERM, exit 0 after {restart.Elapsed.TotalSeconds:0.0} s");
        restart.Restart();
        (ChildProcess again, int againHealth) = StartNode(dev, coordinators, "poscuda-coordinator-0", 0, seeds, job, Fixture.Moto.Endpoint);
        await WaitForProbeAsync(again, againHealth, "/ready", HttpStatusCode.OK);
        Output.WriteLine($"coordinator-0 restarted: ready {restart.Elapsed.TotalSeconds:0.0} s after its start");
        string viaSeed1 = seeds.Values.ElementAt(1);
        Assert.Contains(again.Output, line => line.Contains("Welcome from", StringComparison.Ordinal) && line.Contains(viaSeed1, StringComparison.Ordinal));
        Assert.DoesNotContain(again.Output, line => line.Contains("is JOINING itself", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await ProbeAsync(firstHealth, "/ready")).Status);
    }

    [Fact]
    public async Task Coordinator_LedgerUnreachable_NotReadyButAlive()
    {
        RenderedOverlay dev = await RenderedOverlay.RenderAsync("dev");
        await using DistributedJob job = await DistributedJob.SubmitAsync(Fixture, Postgres);
        var builder = new NpgsqlConnectionStringBuilder(job.LedgerLocation);
        var relay = new TcpRelay(IPAddress.Loopback, new IPEndPoint(IPAddress.Loopback, builder.Port));
        builder.Port = relay.Endpoint.Port;
        Dictionary<string, string> seeds = dev.StableAddresses("poscuda-coordinator").ToDictionary(a => a, _ => $"127.0.0.1:{Loopback.FreePort()}", StringComparer.Ordinal);
        (ChildProcess coordinator, int health) = StartNode(
            dev, Assert.Single(dev.Workloads, w => w.Metadata.Name == "poscuda-coordinator"), "poscuda-coordinator-0", 0, seeds, job, Fixture.Moto.Endpoint, builder.ConnectionString);
        await WaitForProbeAsync(coordinator, health, "/ready", HttpStatusCode.OK);

        await relay.DisposeAsync();

        (HttpStatusCode ready, string why) = await Poll.UntilAsync(
            () => ProbeAsync(health, "/ready"), r => r.Status == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30), "readiness to fail", coordinator.Describe);
        Output.WriteLine($"ledger cut: /ready {(int)ready} {why}");
        Assert.Contains("ledger does not answer", why, StringComparison.Ordinal);
        Assert.DoesNotContain(Postgres.Password, why, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await ProbeAsync(health, "/alive")).Status);
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (ChildProcess node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    // Starts a node as the workload's container would run, with the substitutions this machine needs; returns it and its health port.
    // SEEDS maps each coordinator's stable HOST:PORT to the loopback address standing in for it: the seed list the manifest sets is
    // rewritten through it, and a coordinator advertising a stable name listens on the port standing in for it (REMOTEPORT 0).
    private (ChildProcess Node, int HealthPort) StartNode(
        RenderedOverlay overlay, Workload workload, string podName, int remotePort, IReadOnlyDictionary<string, string> seeds, DistributedJob job, Uri s3, string? ledger = null)
    {
        V1Container container = workload.Template.Spec.Containers[0];
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["status.podIP"] = "127.0.0.1", ["metadata.name"] = podName, ["metadata.namespace"] = workload.Metadata.NamespaceProperty,
        };
        var env = overlay.Environment(container, fields, (_, _) => null).ToDictionary(StringComparer.Ordinal);
        // There is no collector here, and the store and its credentials are the test's own.
        foreach (string name in env.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("AWS_", StringComparison.Ordinal)).ToList())
        {
            env.Remove(name);
        }

        env["POSCUDA_LEDGER"] = ledger ?? job.LedgerLocation;
        env["AWS_ENDPOINT_URL_S3"] = s3.ToString();
        // The manifest's seed list, each stable name replaced by its stand-in (a seed the test does not know fails here).
        string[] manifestSeeds = Assert.Contains("POSCUDA_SEED_NODES", env).Split(',');
        Assert.Equal(seeds.Keys, manifestSeeds);
        env["POSCUDA_SEED_NODES"] = string.Join(',', manifestSeeds.Select(s => seeds[s]));
        string[] expanded = [.. container.Args.Select(a => RenderedOverlay.Expand(a, env))];
        int containerPort = Assert.Single(container.Ports, p => p.Name == "akka-remote").ContainerPort;
        if (expanded.FirstOrDefault(a => a.StartsWith("--public-hostname=", StringComparison.Ordinal)) is { } advertised)
        {
            // A coordinator: it advertises its stable name, which must be one of the seeds; it listens where that seed's stand-in is.
            string standIn = Assert.Contains($"{advertised["--public-hostname=".Length..]}:{containerPort}", seeds);
            Assert.Equal(0, remotePort);
            remotePort = int.Parse(standIn[(standIn.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        int health = Loopback.FreePort();
        var arguments = new List<string>();
        foreach (string arg in expanded)
        {
            arguments.Add(arg switch
            {
                _ when arg.StartsWith("--public-hostname=", StringComparison.Ordinal) => "--public-hostname=127.0.0.1",
                _ when arg.StartsWith("--port=", StringComparison.Ordinal) => $"--port={remotePort}",
                _ when arg.StartsWith("--health-port=", StringComparison.Ordinal) => $"--health-port={health}",
                _ when arg.StartsWith("--keyring=", StringComparison.Ordinal) => $"--keyring={Fixture.KeyringPath}",
                _ => arg,
            });
        }

        string tool = container.Command[0] == "/app/poscuda-worker" ? PoscudaTool.Worker : PoscudaTool.Poscuda;
        ChildProcess node = PoscudaTool.Start(podName, tool, [.. container.Command.Skip(1), .. arguments], env);
        _nodes.Add(node);
        return (node, health);
    }

    private static async Task<long> PendingObjectsAsync(DistributedJob job, string query)
    {
        await using var connection = new NpgsqlConnection(job.LedgerLocation);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<(HttpStatusCode Status, string Reason)> ProbeAsync(int port, string path)
    {
        HttpResponseMessage response;
        try
        {
            response = await s_http.GetAsync(new Uri($"http://127.0.0.1:{port}{path}"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, e.Message); // Not listening yet, or no answer in time.
        }

        using (response)
        {
            string body = await response.Content.ReadAsStringAsync();
            try
            {
                using JsonDocument json = JsonDocument.Parse(body);
                return (response.StatusCode, json.RootElement.GetProperty("reason").GetString()!);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException)
            {
                return (response.StatusCode, body);
            }
        }
    }

    private static Task WaitForProbeAsync(ChildProcess node, int port, string path, HttpStatusCode expected) =>
        Poll.UntilAsync(() => ProbeAsync(port, path), r => r.Status == expected, TimeSpan.FromSeconds(90), $"{node.Name}: GET {path} to answer {(int)expected}", node.Describe);
}
