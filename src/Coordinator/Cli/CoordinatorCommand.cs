using System.CommandLine;
using Microsoft.Extensions.Logging;
using PosCuda.Coordinator.Maintenance;
using PosCuda.Engine.Hosting;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda coordinator --ledger URI --seed HOST:PORT</c>: a coordinator node of the cluster.</summary>
/// <remarks>
/// Hosts the class shards and, while it is the oldest coordinator node, the job coordinator singleton (rescue expired leases,
/// dead-letter poison batches, finish jobs and write manifests). Run two: the singleton moves to the other when one fails.
/// </remarks>
public static class CoordinatorCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var cluster = new ClusterCli();
        var command = new Command("coordinator", "Run a coordinator node of the cluster: the job coordinator singleton and the class shards.")
        {
            common.Ledger,
        };
        cluster.AddTo(command);
        common.AddStores(command);
        command.SetAction(async (result, ct) =>
        {
            using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
            ILogger logger = loggers.CreateLogger("poscuda-coordinator");
            ClusterSettings settings;
            try
            {
                settings = cluster.Read(result, [ClusterSettings.CoordinatorRole], TimeSpan.Zero);
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }

            if (result.GetValue(cluster.CheckConfig))
            {
                string described;
                try
                {
                    await using IWorkLedger opened = WorkLedger.Open(common.ReadLedger(result));
                    described = opened.Describe();
                }
                catch (ArgumentException e)
                {
                    throw new UsageException(e.Message);
                }

                await Console.Out.WriteLineAsync(NodeConfigReport.Write("poscuda coordinator", settings, described, json =>
                    json.WriteString("s3Endpoint", result.GetValue(common.S3Endpoint)))).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            await using IWorkLedger ledger = WorkLedger.Open(common.ReadLedger(result));
            await ledger.MigrateAsync(ct).ConfigureAwait(false);
            await using var stores = new ObjectStoreCache(common.ReadStoreOptions(result));
            var finisher = new ManifestJobFinisher(ledger, stores, logger);
            logger.LogInformation("Coordinator node joining the cluster ({Seeds}); ledger {Ledger}", string.Join(", ", settings.SeedNodes), ledger.Describe());
            EngineNode node = await EngineNode.StartClusterAsync(settings, ledger, finisher, null, ct).ConfigureAwait(false);
            logger.LogInformation("Coordinator node is up at {Address}", node.Address);
            return await ClusterCli.RunUntilStoppedAsync(node, logger).ConfigureAwait(false);
        });
        return command;
    }
}
