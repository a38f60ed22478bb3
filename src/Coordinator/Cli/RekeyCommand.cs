using System.CommandLine;
using PosCuda.Worker.Hosting;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Vault;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda rekey DST --keyring FILE --from-version V</c>: re-protects every object published under version V with the active version, in place, on this machine.</summary>
public static class RekeyCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var destination = new Argument<string>("DST") { Description = "The published set: a folder or s3://bucket/prefix." };
        var fromVersion = new Option<int>("--from-version") { Description = "The key version whose objects are re-protected.", Required = true }.AtLeast(1);
        var originals = new Option<string?>("--source") { Description = "Where the originals are (a folder or s3://bucket/prefix); else they are rebuilt from restore records (--vault, --vault-store)." };
        var report = new Option<string?>("--report") { Description = "Write a JSON report to this file." };
        var state = new Option<string?>("--state") { Description = "State folder holding the resumable ledger (default: the protect job's, DST.poscuda-state beside a local DST)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Objects in flight at once." }.AtLeast(0);
        var quiet = new Option<bool>("--quiet") { Description = "No progress display." };
        var vault = new VaultOptions();
        var command = new Command("rekey", "Re-protect every object published under --from-version with the keyring's active version, replacing it with a fenced write (resumable).")
        {
            destination, common.Keyring, common.Labels, fromVersion, originals, vault.File, vault.Store, report, state, concurrency, quiet,
            common.BatchSize, common.MaxAttempts,
        };
        common.AddParameters(command);
        common.AddStores(command);
        command.SetAction((result, ct) =>
        {
            string keyringPath = result.GetRequiredValue(common.Keyring);
            (JobOperation operation, VaultKey? key) = ReadOperation(result, keyringPath, result.GetValue(fromVersion), result.GetValue(originals), vault);
            string dst = result.GetRequiredValue(destination);
            return ProtectCommand.RunAsync(
                new ProtectCommand.Request(
                    dst, dst, keyringPath, result.GetRequiredValue(common.Labels), common.ReadParameters(result), common.ReadStoreOptions(result),
                    result.GetValue(report), result.GetValue(state), result.GetValue(concurrency), result.GetValue(common.BatchSize),
                    result.GetValue(common.MaxAttempts), result.GetValue(quiet))
                {
                    Operation = operation,
                    Vault = key,
                    ParametersGiven = common.ParametersGiven(result),
                },
                ct);
        });
        return command;
    }

    /// <summary>Checks the keyring and reads a rekey's operation: originals from a source or from the vault.</summary>
    /// <exception cref="UsageException">The keyring's active version is compromised, the version is not in it, or neither source nor vault is given.</exception>
    public static (JobOperation Operation, VaultKey? Key) ReadOperation(ParseResult result, string keyringPath, int fromVersion, string? originals, VaultOptions vault)
    {
        ArgumentNullException.ThrowIfNull(vault);
        Keyring keyring = KeyringFile.Load(keyringPath);
        VaultOptions.RefuseCompromisedActive(keyring, keyringPath);
        if (!keyring.TryGetVersion(fromVersion, out _))
        {
            throw new UsageException($"keyring {keyringPath} has no version {fromVersion}.");
        }

        if (fromVersion == keyring.Active)
        {
            throw new UsageException($"version {fromVersion} is the active version; rotate the keyring first ('poscuda keyring rotate {keyringPath} --compromised').");
        }

        (VaultKey Key, string Store)? records = vault.Read(result);
        if (originals is null && records is null)
        {
            throw new UsageException("rekey needs the originals: --source SRC, or --vault FILE --vault-store URI to rebuild them from restore records.");
        }

        if (originals is null && records is { Key.HasPrivateKey: false })
        {
            throw new UsageException("rebuilding originals from restore records needs the vault's private key; this --vault file is public only.");
        }

        var operation = new JobOperation(
            JobKind.Rekey, fromVersion, originals is null ? null : Locations.Normalise(originals),
            records?.Key.KeyId, records?.Key.PublicKey.ToText(), records?.Store);
        return (operation, records?.Key);
    }
}
