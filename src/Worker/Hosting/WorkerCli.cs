using System.CommandLine;
using Microsoft.Extensions.Logging;
using PosCuda.Engine.Batches;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Processing;
using PosCuda.Gpu;
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
        var vaultOption = new Option<string?>("--vault") { Description = "The vault key file with its private key: only on workers that rekey or restore from restore records (protecting needs none)." };
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
        var claimOption = new Option<int?>("--claim-objects")
        {
            Description = $"Objects a slot takes in one lease, merging a class's untried batches (default: each batch as planned; {WorkerSettings.GpuClaimObjects} on a GPU node, for larger launches).",
        };
        claimOption.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 0)
            {
                r.AddError("--claim-objects must be 0 (each batch as planned) or more.");
            }
        });
        var idOption = new Option<string?>("--worker-id") { Description = "This node's name in the ledger (default: host/pid)." };
        var deviceOption = DeviceOption.Create();
        var endpointOption = new Option<string?>("--s3-endpoint") { Description = "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)." };
        var pathStyleOption = new Option<bool>("--s3-path-style") { Description = "Path-style S3 addressing." };
        Option<long> memoryLimitOption = MemoryLimitOption.Create();
        var root = new RootCommand("poscuda-worker: a worker node of the cluster; asks the class shards for batches and protects their objects.")
        {
            ledgerOption, keyringOption, vaultOption, slotsOption, concurrencyOption, leaseOption, drainOption, idOption, deviceOption, endpointOption, pathStyleOption,
            memoryLimitOption, claimOption,
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
            if (parse.GetValue(cluster.CheckConfig))
            {
                // No engine is created (the machine checking a manifest need not have the pod's GPU); cuda means the gpu role.
                PatchDevice device;
                try
                {
                    device = PatchEngines.Parse(parse.GetRequiredValue(deviceOption));
                    string[] checkedRoles = device == PatchDevice.Cuda ? [ClusterSettings.WorkerRole, ClusterSettings.GpuRole] : [ClusterSettings.WorkerRole];
                    clusterSettings = cluster.Read(parse, checkedRoles, TimeSpan.FromSeconds(parse.GetValue(drainOption)));
                }
                catch (ArgumentException e)
                {
                    await Console.Error.WriteLineAsync($"poscuda-worker: {e.Message}").ConfigureAwait(false);
                    return 2;
                }

                return await CheckConfigAsync(parse, clusterSettings, ledgerLocation, parse.GetRequiredValue(deviceOption)).ConfigureAwait(false);
            }

            IPatchEngine engine;
            try
            {
                engine = PatchEngines.Create(PatchEngines.Parse(parse.GetRequiredValue(deviceOption)));
            }
            catch (InvalidOperationException e)
            {
                await Console.Error.WriteLineAsync($"poscuda-worker: {e.Message}").ConfigureAwait(false);
                return 2;
            }

            using IDisposable? engineLifetime = engine as IDisposable;
            try
            {
                // A node whose engine runs on a GPU joins with the gpu role as well.
                string[] roles = PatchEngines.IsGpu(engine) ? [ClusterSettings.WorkerRole, ClusterSettings.GpuRole] : [ClusterSettings.WorkerRole];
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
                    TimeSpan.FromSeconds(parse.GetValue(leaseOption)))
                {
                    ClaimObjects = ClaimObjects(parse, PatchEngines.IsGpu(engine)),
                };
                await using IWorkLedger ledger = WorkLedger.Open(ledgerLocation);
                await ledger.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                await using var stores = new ObjectStoreCache(new ObjectStoreOptions(parse.GetValue(endpointOption), parse.GetValue(pathStyleOption)));
                var runner = new BatchRunner(
                    ledger,
                    new BatchProcessor(
                        keyring, stores, engine: engine, vault: parse.GetValue(vaultOption) is { } vaultPath ? PosCuda.Shared.Vault.VaultKey.Load(vaultPath) : null,
                        budget: new MemoryBudget(parse.GetValue(memoryLimitOption))),
                    logger);
                logger.LogInformation(
                    "Worker {WorkerId} joining the cluster ({Seeds}) as {Roles}: key {KeyId}, {Slots} slots, {Concurrency} objects in flight, engine {Engine}, {Claim}",
                    settings.WorkerId, string.Join(", ", clusterSettings.SeedNodes), string.Join("+", clusterSettings.Roles), keyring.KeyId, settings.Slots,
                    settings.Concurrency, engine.Name,
                    settings.ClaimObjects == 0 ? "batches as planned" : $"up to {settings.ClaimObjects} objects a lease");
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

        // A GPU node takes larger leases unless told otherwise; a CPU node takes each batch as planned.
        int ClaimObjects(ParseResult parse, bool onGpu) => parse.GetValue(claimOption) ?? (onGpu ? WorkerSettings.GpuClaimObjects : 0);

        // The keyring is named, not read: it is a mounted secret where the node runs, not where its manifest is checked.
        async Task<int> CheckConfigAsync(ParseResult parse, ClusterSettings clusterSettings, string ledgerLocation, string device)
        {
            string ledger;
            try
            {
                await using IWorkLedger opened = WorkLedger.Open(ledgerLocation);
                ledger = opened.Describe();
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"poscuda-worker: {e.Message}").ConfigureAwait(false);
                return 2;
            }

            var settings = new WorkerSettings(
                parse.GetValue(idOption) ?? WorkerSettings.DefaultWorkerId(),
                parse.GetValue(slotsOption),
                parse.GetValue(concurrencyOption),
                TimeSpan.FromSeconds(parse.GetValue(leaseOption)))
            {
                ClaimObjects = ClaimObjects(parse, PatchEngines.Parse(device) == PatchDevice.Cuda),
            };
            string report = NodeConfigReport.Write("poscuda-worker", clusterSettings, ledger, json =>
            {
                json.WriteString("keyring", Path.GetFullPath(parse.GetRequiredValue(keyringOption)));
                json.WriteString("workerId", settings.WorkerId);
                json.WriteNumber("slots", settings.Slots);
                json.WriteNumber("concurrency", settings.Concurrency);
                json.WriteNumber("leaseSeconds", settings.LeaseDuration.TotalSeconds);
                json.WriteNumber("claimObjects", settings.ClaimObjects);
                json.WriteString("s3Endpoint", parse.GetValue(endpointOption));
                json.WriteString("device", device);
            });
            await Console.Out.WriteLineAsync(report).ConfigureAwait(false);
            return 0;
        }
    }
}
