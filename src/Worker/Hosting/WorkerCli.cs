using System.CommandLine;
using Microsoft.Extensions.Logging;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Processing;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Worker.Hosting;

/// <summary>The <c>poscuda-worker</c> command line: a worker node of the cluster, asking the class shards for batches until stopped.</summary>
/// <remarks>SIGTERM or Ctrl-C: stop asking, finish the batches in hand, leave the cluster, exit 0. A second signal gives them back at once.</remarks>
public static class WorkerCli
{
    /// <summary>Runs the worker and returns its exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var cluster = new ClusterCli();
        var ledgerOption = new Option<string?>("--ledger") { Description = "The work ledger URI (default: POSCUDA_LEDGER)." };
        var keyringOption = new Option<string>("--keyring") { Description = "The keyring file (mode 0600).", Required = true };
        var slotsOption = new Option<int>("--slots") { Description = "Batches held at once (default: cores).", DefaultValueFactory = _ => Environment.ProcessorCount }.AtLeast(1);
        var concurrencyOption = new Option<int>("--concurrency") { Description = "Objects in flight at once on this node, shared by its slots.", DefaultValueFactory = _ => Environment.ProcessorCount * 8 }.AtLeast(1);
        var leaseOption = new Option<double>("--lease-seconds")
        {
            Description = "Lease length; renewed every third of it. A crashed node's batches come back sooner, when the cluster downs it.",
            DefaultValueFactory = _ => 60,
        }.Positive();
        var drainOption = new Option<double>("--drain-seconds")
        {
            Description = "On SIGTERM, how long to finish the batches in hand before giving them back.",
            DefaultValueFactory = _ => 120,
        }.Positive();
        var idOption = new Option<string?>("--worker-id") { Description = "This node's name in the ledger (default: host/pid)." };
        var gpuOption = new Option<bool>("--gpu") { Description = "Join with the gpu role as well (a GPU engine is present)." };
        var endpointOption = new Option<string?>("--s3-endpoint") { Description = "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)." };
        var pathStyleOption = new Option<bool>("--s3-path-style") { Description = "Path-style S3 addressing." };
        Option<long> memoryLimitOption = MemoryLimitOption.Create();
        var root = new RootCommand("poscuda-worker: a worker node of the cluster; asks the class shards for batches and protects their objects.")
        {
            ledgerOption, keyringOption, slotsOption, concurrencyOption, leaseOption, drainOption, idOption, gpuOption, endpointOption, pathStyleOption,
            memoryLimitOption,
        };
        cluster.AddTo(root);

        root.SetAction((parse, _) => RunWorkerAsync(parse));
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"poscuda-worker: {error.Message}").ConfigureAwait(false);
            }

            return 2;
        }

        return await parsed.InvokeAsync().ConfigureAwait(false);

        async Task<int> RunWorkerAsync(ParseResult parse)
        {
            // OTLP export when the OTEL_* environment asks for it; disposing flushes what is left at exit.
            using IDisposable telemetry = TelemetrySetup.Start(TelemetrySetup.WorkerRole);
            string? ledgerLocation = parse.GetValue(ledgerOption) ?? Environment.GetEnvironmentVariable("POSCUDA_LEDGER");
            if (string.IsNullOrWhiteSpace(ledgerLocation))
            {
                await Console.Error.WriteLineAsync("poscuda-worker: no ledger: pass --ledger or set POSCUDA_LEDGER.").ConfigureAwait(false);
                return 2;
            }

            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
            ILogger logger = loggers.CreateLogger("poscuda-worker");
            ClusterSettings clusterSettings;
            try
            {
                string[] roles = parse.GetValue(gpuOption) ? [ClusterSettings.WorkerRole, ClusterSettings.GpuRole] : [ClusterSettings.WorkerRole];
                clusterSettings = cluster.Read(parse, roles, TimeSpan.FromSeconds(parse.GetValue(drainOption)));
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"poscuda-worker: {e.Message}").ConfigureAwait(false);
                return 2;
            }

            try
            {
                Keyring keyring = KeyringFile.Load(parse.GetRequiredValue(keyringOption));
                var settings = new WorkerSettings(
                    parse.GetValue(idOption) ?? WorkerSettings.DefaultWorkerId(),
                    parse.GetValue(slotsOption),
                    parse.GetValue(concurrencyOption),
                    TimeSpan.FromSeconds(parse.GetValue(leaseOption)));
                await using IWorkLedger ledger = WorkLedger.Open(ledgerLocation);
                await ledger.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                await using var stores = new ObjectStoreCache(new ObjectStoreOptions(parse.GetValue(endpointOption), parse.GetValue(pathStyleOption)));
                var runner = new BatchRunner(ledger, new BatchProcessor(keyring, stores, budget: new MemoryBudget(parse.GetValue(memoryLimitOption))), logger);
                logger.LogInformation(
                    "Worker {WorkerId} joining the cluster ({Seeds}): key {KeyId}, {Slots} slots, {Concurrency} objects in flight",
                    settings.WorkerId, string.Join(", ", clusterSettings.SeedNodes), keyring.KeyId, settings.Slots, settings.Concurrency);
                EngineNode node = await EngineNode.StartClusterAsync(
                    clusterSettings, ledger, null, new EngineNode.WorkerParts(settings, runner), CancellationToken.None).ConfigureAwait(false);
                logger.LogInformation("Worker {WorkerId} is up at {Address}", settings.WorkerId, node.Address);
                return await ClusterCli.RunUntilStoppedAsync(node, logger).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogCritical("poscuda-worker: {Error}", e.Message);
                return 1;
            }
        }
    }
}
