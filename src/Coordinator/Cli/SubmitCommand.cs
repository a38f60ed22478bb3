using System.CommandLine;
using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Vault;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda submit SRC DST --ledger URI</c>: plans a job for workers on many nodes and prints its id last.</summary>
public static class SubmitCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var source = new Argument<string>("SRC") { Description = "Source: s3://bucket/prefix (or a folder every worker can read)." };
        var destination = new Argument<string?>("DST") { Description = "Destination: s3://bucket/prefix (or a shared folder); none with --rekey.", Arity = ArgumentArity.ZeroOrOne };
        var rekey = new Option<bool>("--rekey") { Description = "Submit a rekey of the published set SRC: re-protect every object under --from-version with the keyring's active version." };
        var fromVersion = new Option<int>("--from-version") { Description = "With --rekey: the key version whose objects are re-protected." };
        var originals = new Option<string?>("--source") { Description = "With --rekey: where the originals are; else they are rebuilt from restore records (--vault, --vault-store; workers need --vault)." };
        var vault = new VaultOptions();
        var command = new Command("submit", "Plan a job in the ledger for poscuda-worker processes; prints the job id as the last line.")
        {
            source, destination, common.Ledger, common.Keyring, common.Labels, common.BatchSize, common.MaxAttempts,
            rekey, fromVersion, originals, vault.File, vault.Store,
        };
        common.AddParameters(command);
        common.AddStores(command);
        command.SetAction(async (result, ct) =>
        {
            LabelRule labels = Locations.ParseLabels(result.GetRequiredValue(common.Labels));
            string src = Locations.Normalise(result.GetRequiredValue(source));
            JobOperation? operation;
            string dst;
            if (result.GetValue(rekey))
            {
                if (result.GetValue(destination) is not null)
                {
                    throw new UsageException("submit --rekey takes the published set alone (SRC); the rekey replaces its objects in place.");
                }

                dst = src;
                (operation, VaultKey? key) = RekeyCommand.ReadOperation(
                    result, result.GetRequiredValue(common.Keyring), result.GetValue(fromVersion), result.GetValue(originals), vault);
                key?.Dispose(); // The job carries the vault's public key only; workers bring the private one.
            }
            else
            {
                dst = Locations.Normalise(result.GetValue(destination) ?? throw new UsageException("submit needs SRC and DST."));
                Locations.EnsureNotWithin(dst, src);
                operation = vault.ReadRecordsOperation(result);
            }

            ProtectionParameters parameters = common.ReadParameters(result);
            Keyring keyring = KeyringFile.Load(result.GetRequiredValue(common.Keyring));
            await using IWorkLedger ledger = WorkLedger.Open(common.ReadLedger(result));
            await ledger.MigrateAsync(ct).ConfigureAwait(false);
            await using var stores = new ObjectStoreCache(common.ReadStoreOptions(result));
            if (operation?.Kind == JobKind.Rekey)
            {
                parameters = await PublishedParameters.ResolveAsync(
                    ledger, stores, dst, keyring.KeyId, parameters, common.ParametersGiven(result), Console.Error, ct).ConfigureAwait(false);
            }

            var definition = new JobDefinition(src, dst, labels.Text, parameters, keyring.KeyId, keyring.Active, result.GetValue(common.MaxAttempts), Operation: operation);
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
                if (operation is { Kind: JobKind.Rekey, FromVersion: int from })
                {
                    // Known as soon as the classes are planned: the workers would re-protect these classes with the same code.
                    await KeptCodes.WarnForJobAsync(ledger, plan.JobId, keyring, from, keyring.Active, parameters, Console.Error, ct).ConfigureAwait(false);
                }

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
