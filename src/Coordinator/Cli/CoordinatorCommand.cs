using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PosCuda.Coordinator.Maintenance;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda coordinator --ledger URI</c>: the maintenance loop (rescue, dead-letter, finish jobs, manifests).</summary>
/// <remarks>Safe to run several: one acts while it holds the leader lease; the others stand by.</remarks>
public static class CoordinatorCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var interval = new Option<double>("--interval") { Description = "Seconds between maintenance passes.", DefaultValueFactory = _ => 2 };
        var once = new Option<bool>("--once") { Description = "Run one pass and exit." };
        var id = new Option<string?>("--id") { Description = "This coordinator's name in the leader lease (default: host/pid)." };
        var command = new Command("coordinator", "Run the coordinator: rescue expired leases, dead-letter poison batches, finish jobs and write manifests.")
        {
            common.Ledger, interval, once, id,
        };
        common.AddStores(command);
        command.SetAction(async (result, ct) =>
        {
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
            ILogger logger = loggers.CreateLogger("poscuda-coordinator");
            await using IWorkLedger ledger = WorkLedger.Open(common.ReadLedger(result));
            await ledger.MigrateAsync(ct).ConfigureAwait(false);
            await using var stores = new ObjectStoreCache(common.ReadStoreOptions(result));
            string holder = result.GetValue(id) ?? WorkerOptions.DefaultWorkerId();
            var loop = new CoordinatorLoop(ledger, stores, holder, TimeSpan.FromSeconds(result.GetValue(interval)), logger);
            if (result.GetValue(once))
            {
                bool leader = await loop.RunOnceAsync(ct).ConfigureAwait(false);
                logger.LogInformation(leader ? "Pass done" : "Another coordinator is acting; nothing done");
                return ExitCodes.Success;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            logger.LogInformation("Coordinator {Holder} started", holder);
            await loop.RunAsync(stop.Token).ConfigureAwait(false);
            logger.LogInformation("Coordinator {Holder} stopped", holder);
            return ExitCodes.Success;
        });
        return command;
    }
}
