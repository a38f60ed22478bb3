using System.CommandLine;
using PosCuda.Shared.Vault;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda vault create|export-public|show</c>: the key pair restore records are sealed to (docs/vault.md).</summary>
public static class VaultCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var createFile = new Argument<string>("FILE") { Description = "The vault key file to create (mode 0600)." };
        var create = new Command("create", "Create a vault key pair (ECDH P-256).") { createFile };
        create.SetAction(result =>
        {
            string path = result.GetRequiredValue(createFile);
            if (System.IO.File.Exists(path))
            {
                throw new UsageException($"{path} already exists.");
            }

            using VaultKey key = VaultKey.Create();
            key.Save(path);
            Console.Out.WriteLine($"Created vault key {key.KeyId} in {path}; keep it away from workers that only protect (give them 'poscuda vault export-public').");
            return ExitCodes.Success;
        });

        var exportFile = new Argument<string>("FILE") { Description = "The vault key file." };
        var exportOut = new Argument<string>("OUT") { Description = "The public-only file to write." };
        var export = new Command("export-public", "Write the vault's public key alone: enough to protect with restore records, useless for reading them.") { exportFile, exportOut };
        export.SetAction(result =>
        {
            using VaultKey key = VaultKey.Load(result.GetRequiredValue(exportFile));
            key.Save(result.GetRequiredValue(exportOut), publicOnly: true);
            Console.Out.WriteLine($"Wrote the public half of vault key {key.KeyId}");
            return ExitCodes.Success;
        });

        var showFile = new Argument<string>("FILE") { Description = "The vault key file." };
        var show = new Command("show", "Show the vault key id and whether the file holds the private half (never the key itself).") { showFile };
        show.SetAction(result =>
        {
            using VaultKey key = VaultKey.Load(result.GetRequiredValue(showFile));
            Console.Out.WriteLine($"vault key {key.KeyId} ({(key.HasPrivateKey ? "private and public" : "public only")}), created {key.Created:u}");
            return ExitCodes.Success;
        });

        return new Command("vault", "Create and inspect the vault key that seals restore records.") { create, export, show };
    }
}
