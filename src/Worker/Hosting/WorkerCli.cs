using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;
using PosCuda.Worker.Processing;

namespace PosCuda.Worker.Hosting;

/// <summary>The <c>poscuda-worker</c> command line: claims and processes batches until stopped.</summary>
/// <remarks>SIGTERM or Ctrl-C: stop claiming, finish the batches in hand, exit 0. A second signal gives them back at once.</remarks>
public static class WorkerCli
{
    /// <summary>Runs the worker and returns its exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var ledgerOption = new Option<string?>("--ledger") { Description = "The work ledger URI (default: POSCUDA_LEDGER)." };
        var keyringOption = new Option<string>("--keyring") { Description = "The keyring file (mode 0600).", Required = true };
        var concurrencyOption = new Option<int>("--concurrency") { Description = "Objects in flight at once.", DefaultValueFactory = _ => Environment.ProcessorCount * 8 }.AtLeast(1);
        var slotsOption = new Option<int>("--slots") { Description = "Batches held at once.", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var jobOption = new Option<Guid?>("--job") { Description = "Work on this job only." };
        var leaseOption = new Option<double>("--lease-seconds") { Description = "Lease length; heartbeats every third of it.", DefaultValueFactory = _ => 15 }.Positive();
        var exitWhenIdle = new Option<bool>("--exit-when-idle") { Description = "Exit once nothing is left to claim." };
        var idOption = new Option<string?>("--worker-id") { Description = "This worker's name in the ledger (default: host/pid)." };
        var endpointOption = new Option<string?>("--s3-endpoint") { Description = "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)." };
        var pathStyleOption = new Option<bool>("--s3-path-style") { Description = "Path-style S3 addressing." };
        var root = new RootCommand("poscuda-worker: claims batches from the ledger and protects their objects.")
        {
            ledgerOption, keyringOption, concurrencyOption, slotsOption, jobOption, leaseOption, exitWhenIdle, idOption, endpointOption, pathStyleOption,
        };

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
            try
            {
                Keyring keyring = KeyringFile.Load(parse.GetRequiredValue(keyringOption));
                var options = new WorkerOptions(
                    parse.GetValue(idOption) ?? WorkerOptions.DefaultWorkerId(),
                    parse.GetValue(concurrencyOption),
                    parse.GetValue(slotsOption),
                    TimeSpan.FromSeconds(parse.GetValue(leaseOption)),
                    jobId: parse.GetValue(jobOption),
                    exitWhenIdle: parse.GetValue(exitWhenIdle));
                await using IWorkLedger ledger = WorkLedger.Open(ledgerLocation);
                await ledger.MigrateAsync(CancellationToken.None).ConfigureAwait(false);
                await using var stores = new ObjectStoreCache(new ObjectStoreOptions(parse.GetValue(endpointOption), parse.GetValue(pathStyleOption)));
                var loop = new WorkerLoop(ledger, new BatchProcessor(keyring, stores), options, logger);

                using var stopClaiming = new CancellationTokenSource();
                using var abort = new CancellationTokenSource();
                void OnSignal(PosixSignalContext context)
                {
                    context.Cancel = true;
                    if (stopClaiming.IsCancellationRequested)
                    {
                        logger.LogWarning("Second signal: giving back batches in hand");
                        abort.Cancel();
                    }
                    else
                    {
                        logger.LogInformation("{Signal}: no more claims; finishing batches in hand", context.Signal);
                        stopClaiming.Cancel();
                    }
                }

                using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
                using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
                logger.LogInformation("Worker {WorkerId} started: key {KeyId}, concurrency {Concurrency}", options.WorkerId, keyring.KeyId, options.Concurrency);
                await loop.RunAsync(stopClaiming.Token, abort.Token).ConfigureAwait(false);
                logger.LogInformation("Worker {WorkerId} stopped after {Batches} batches", options.WorkerId, loop.CompletedBatches);
                return 0;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogCritical("poscuda-worker: {Error}", e.Message);
                return 1;
            }
        }
    }
}
