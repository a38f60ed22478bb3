using System.CommandLine;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Vault;

namespace PosCuda.Coordinator.Cli;

/// <summary>The <c>--vault FILE --vault-store URI</c> pair: where restore records go (protect) or come from (rekey, restore, verify).</summary>
public sealed class VaultOptions
{
    public Option<string?> File { get; } = new("--vault")
    {
        Description = "The vault key file: its public key seals restore records (protect); its private key opens them (rekey, restore, verify).",
    };

    public Option<string?> Store { get; } = new("--vault-store")
    {
        Description = "Where restore records are kept: a folder or s3://bucket/prefix (not inside the destination).",
    };

    /// <summary>The vault key and store, or null when neither option is given.</summary>
    /// <exception cref="UsageException">Only one of the two is given.</exception>
    public (VaultKey Key, string Store)? Read(ParseResult result)
    {
        string? file = result.GetValue(File);
        string? store = result.GetValue(Store);
        if (file is null && store is null)
        {
            return null;
        }

        if (file is null || store is null)
        {
            throw new UsageException("--vault and --vault-store go together.");
        }

        return (VaultKey.Load(file), Locations.Normalise(store));
    }

    /// <summary>A protect job's operation when it writes restore records (the vault's public key only), else null.</summary>
    public JobOperation? ReadRecordsOperation(ParseResult result)
    {
        if (Read(result) is not var (key, store))
        {
            return null;
        }

        using (key)
        {
            return new JobOperation(JobKind.Protect, VaultKeyId: key.KeyId, VaultPublicKey: key.PublicKey.ToText(), VaultStore: store);
        }
    }

    /// <summary>Refuses a keyring whose active version is compromised: nothing new may be protected under a leaked key.</summary>
    public static void RefuseCompromisedActive(Keyring keyring, string path)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        if (keyring.ActiveVersion.State == KeyState.Compromised)
        {
            throw new UsageException(
                $"keyring {path}: its active version {keyring.Active} is compromised; run 'poscuda keyring rotate {path} --compromised' first.");
        }
    }
}
