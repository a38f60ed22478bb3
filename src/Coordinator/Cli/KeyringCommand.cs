using System.CommandLine;
using PosCuda.Shared.Protection;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda keyring create|rotate|show FILE</c>: manage a keyring file without ever printing a secret.</summary>
public static class KeyringCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var createFile = new Argument<string>("FILE") { Description = "The keyring file to create (mode 0600)." };
        var create = new Command("create", "Create a new keyring with one active key version.") { createFile };
        create.SetAction(result =>
        {
            string path = result.GetRequiredValue(createFile);
            if (File.Exists(path))
            {
                throw new UsageException($"{path} already exists; use 'poscuda keyring rotate' to add a version.");
            }

            Keyring keyring = Keyring.Create();
            KeyringFile.Save(keyring, path);
            Console.Out.WriteLine($"Created keyring {keyring.KeyId} (version {keyring.Active} active) in {path}");
            return ExitCodes.Success;
        });

        var rotateFile = new Argument<string>("FILE") { Description = "The keyring file." };
        var compromised = new Option<bool>("--compromised") { Description = "Mark the previously active version compromised (after a leak), not just retired." };
        var rotate = new Command("rotate", "Add a new active key version; the old one is retired (or marked compromised).") { rotateFile, compromised };
        rotate.SetAction(result =>
        {
            string path = result.GetRequiredValue(rotateFile);
            Keyring keyring = KeyringFile.Load(path).Rotate(result.GetValue(compromised));
            KeyringFile.Save(keyring, path);
            Console.Out.WriteLine($"Keyring {keyring.KeyId}: version {keyring.Active} is now active");
            return ExitCodes.Success;
        });

        var showFile = new Argument<string>("FILE") { Description = "The keyring file." };
        var show = new Command("show", "Show the key id and versions (never the secrets).") { showFile };
        show.SetAction(result =>
        {
            Keyring keyring = KeyringFile.Load(result.GetRequiredValue(showFile));
            Console.Out.WriteLine($"keyId {keyring.KeyId}, active version {keyring.Active}");
            foreach (KeyVersion version in keyring.Versions)
            {
                Console.Out.WriteLine($"  version {version.Version}: {version.State.ToString().ToLowerInvariant()}, created {version.Created:u}");
            }

            return ExitCodes.Success;
        });

        return new Command("keyring", "Create, rotate and inspect keyring files.") { create, rotate, show };
    }
}
