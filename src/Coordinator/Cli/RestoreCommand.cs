using System.CommandLine;
using PosCuda.Worker.Hosting;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda restore DST OUT --vault FILE --vault-store URI</c>: rebuilds every original, byte for byte, from the published set and its restore records.</summary>
public static class RestoreCommand
{
    /// <summary>The label rule a restore batches by when none is given: every WAV object in one class (a restore needs no labels).</summary>
    public const string DefaultLabels = "regex:(?<label>[.][Ww][Aa][Vv])$";

    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var destination = new Argument<string>("DST") { Description = "The published set: a folder or s3://bucket/prefix." };
        var output = new Argument<string>("OUT") { Description = "Where the originals go: a folder or s3://bucket/prefix." };
        var labels = new Option<string>("--labels") { Description = "How objects are batched (any label rule); default: all in one class.", DefaultValueFactory = _ => DefaultLabels };
        var report = new Option<string?>("--report") { Description = "Write a JSON report to this file." };
        var state = new Option<string?>("--state") { Description = "State folder holding the resumable ledger (default: OUT.poscuda-state beside a local OUT)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Objects in flight at once." }.AtLeast(0);
        var quiet = new Option<bool>("--quiet") { Description = "No progress display." };
        var vault = new VaultOptions();
        vault.File.Required = true;
        vault.Store.Required = true;
        var command = new Command("restore", "Rebuild the exact originals of a published set from its restore records (needs the vault's private key; resumable).")
        {
            destination, output, vault.File, vault.Store, labels, report, state, concurrency, quiet, common.BatchSize, common.MaxAttempts,
        };
        common.AddStores(command);
        command.SetAction((result, ct) =>
        {
            var (key, store) = vault.Read(result)!.Value;
            if (!key.HasPrivateKey)
            {
                throw new UsageException("restore needs the vault's private key; this --vault file is public only.");
            }

            return ProtectCommand.RunAsync(
                new ProtectCommand.Request(
                    result.GetRequiredValue(destination), result.GetRequiredValue(output), "", result.GetRequiredValue(labels), new ProtectionParameters(),
                    common.ReadStoreOptions(result), result.GetValue(report), result.GetValue(state), result.GetValue(concurrency),
                    result.GetValue(common.BatchSize), result.GetValue(common.MaxAttempts), result.GetValue(quiet))
                {
                    Operation = new JobOperation(JobKind.Restore, VaultKeyId: key.KeyId, VaultStore: store),
                    Vault = key,
                },
                ct);
        });
        return command;
    }
}
