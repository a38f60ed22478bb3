using System.CommandLine;
using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda submit SRC DST --ledger URI</c>: plans a job for workers on many nodes and prints its id last.</summary>
public static class SubmitCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var source = new Argument<string>("SRC") { Description = "Source: s3://bucket/prefix (or a folder every worker can read)." };
        var destination = new Argument<string>("DST") { Description = "Destination: s3://bucket/prefix (or a shared folder)." };
        var command = new Command("submit", "Plan a job in the ledger for poscuda-worker processes; prints the job id as the last line.")
        {
            source, destination, common.Ledger, common.Keyring, common.Labels, common.BatchSize, common.MaxAttempts,
        };
        common.AddParameters(command);
        common.AddStores(command);
        command.SetAction(async (result, ct) =>
        {
            LabelRule labels = Locations.ParseLabels(result.GetRequiredValue(common.Labels));
            string src = Locations.Normalise(result.GetRequiredValue(source));
            string dst = Locations.Normalise(result.GetRequiredValue(destination));
            Locations.EnsureNotWithin(dst, src);
            ProtectionParameters parameters = common.ReadParameters(result);
            Keyring keyring = KeyringFile.Load(result.GetRequiredValue(common.Keyring));
            await using IWorkLedger ledger = WorkLedger.Open(common.ReadLedger(result));
            await ledger.MigrateAsync(ct).ConfigureAwait(false);
            await using var stores = new ObjectStoreCache(common.ReadStoreOptions(result));
            var definition = new JobDefinition(src, dst, labels.Text, parameters, keyring.KeyId, keyring.Active, result.GetValue(common.MaxAttempts));
            var planner = new JobPlanner(ledger);
            int batchSize = result.GetValue(common.BatchSize);
            Guid? jobId = null;
            try
            {
                // A submit killed or interrupted while planning left its job planning: the same command plans the rest of it.
                PlanSummary plan;
                if (await FindPlanningJobAsync(ledger, definition, ct).ConfigureAwait(false) is Guid unfinished)
                {
                    jobId = unfinished;
                    await Console.Error.WriteLineAsync($"Job {unfinished} was interrupted while planning; planning the rest.").ConfigureAwait(false);
                    plan = await planner.ResumeAsync(unfinished, stores.Get(src), labels, batchSize, streamEvery: 0, ct).ConfigureAwait(false);
                }
                else
                {
                    plan = await planner.PlanAsync(definition, stores.Get(src), labels, batchSize, streamEvery: 0, id => jobId = id, ct).ConfigureAwait(false);
                }

                await Console.Error.WriteLineAsync(plan.Describe() + ".").ConfigureAwait(false);
                Console.Out.WriteLine(plan.JobId.ToString("D"));
                return ExitCodes.Success;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested && jobId is not null)
            {
                await Console.Error.WriteLineAsync($"Interrupted while planning job {jobId}. Run the same command again to finish.").ConfigureAwait(false);
                return ExitCodes.Error;
            }
        });
        return command;
    }

    private static async Task<Guid?> FindPlanningJobAsync(IWorkLedger ledger, JobDefinition definition, CancellationToken ct)
    {
        Guid? found = await ledger.FindJobAsync(definition, ct).ConfigureAwait(false);
        return found is Guid id && await ledger.GetJobAsync(id, ct).ConfigureAwait(false) is { State: JobState.Planning } ? id : null;
    }
}
