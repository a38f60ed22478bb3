using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PosCuda.Coordinator.Verify;
using PosCuda.Engine.Vault;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda verify DST --keyring FILE [--source SRC | --vault FILE --vault-store URI] [--labels RULE]</c>: is every published object what its key version says?</summary>
public static class VerifyCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var destination = new Argument<string>("DST") { Description = "The published set: a folder or s3://bucket/prefix." };
        var originals = new Option<string?>("--source") { Description = "The originals (a folder or s3://bucket/prefix)." };
        var labels = new Option<string?>("--labels") { Description = "The label rule the set was protected with (needed to check content)." };
        var report = new Option<string?>("--report") { Description = "Write a JSON report (totals, every finding) to this file." };
        var concurrency = new Option<int>("--concurrency") { Description = "Objects checked at once.", DefaultValueFactory = _ => 2 * Environment.ProcessorCount }.AtLeast(1);
        var vault = new VaultOptions();
        var command = new Command("verify", "Check every published object against the key version it declares; exit 0 only when all agree.")
        {
            destination, common.Keyring, originals, vault.File, vault.Store, labels, report, concurrency,
        };
        common.AddParameters(command);
        common.AddStores(command);
        command.SetAction(async (result, ct) =>
        {
            Keyring keyring = KeyringFile.Load(result.GetRequiredValue(common.Keyring));
            ProtectionParameters parameters = common.ReadParameters(result);
            string dst = Locations.Normalise(result.GetRequiredValue(destination));
            await using var stores = new ObjectStoreCache(common.ReadStoreOptions(result));
            string ledgerPath = Path.Combine(Locations.DefaultStatePath(dst), "ledger.db");
            if (!common.ParametersGiven(result))
            {
                // The set's own parameters: from the ledger of the jobs that wrote it where it is at hand (a local protect's
                // state folder), else from the manifests under the set.
                await using IWorkLedger? ledger = File.Exists(ledgerPath) ? WorkLedger.Open("sqlite:" + ledgerPath) : null;
                parameters = await PublishedParameters.ResolveAsync(ledger, stores, dst, keyring.KeyId, parameters, wereGiven: false, Console.Error, ct).ConfigureAwait(false);
            }

            LabelRule? rule = result.GetValue(labels) is { } text ? Locations.ParseLabels(text) : null;
            IObjectStore published = stores.Get(dst);
            IObjectStore? source = result.GetValue(originals) is { } src ? stores.Get(Locations.Normalise(src)) : null;
            VaultRecords? records = null;
            if (vault.Read(result) is var (key, store))
            {
                if (!key.HasPrivateKey)
                {
                    throw new UsageException("verify with restore records needs the vault's private key; this --vault file is public only.");
                }

                records = new VaultRecords(stores, store, key);
            }

            var verifier = new DatasetVerifier(keyring, parameters);
            DatasetVerifier.Result outcome = await verifier.VerifyAsync(published, rule, source, records, result.GetValue(concurrency), ct).ConfigureAwait(false);
            IReadOnlyList<VerifyFinding> findings = outcome.Findings;
            TextWriter err = Console.Error;
            foreach (VerifyFinding finding in findings)
            {
                await err.WriteLineAsync($"{finding.Kind}: {ObjectKeys.Printable(finding.Key)}: {finding.Detail}").ConfigureAwait(false);
            }

            foreach (string what in outcome.NotChecked)
            {
                await err.WriteLineAsync($"not checked: {what}").ConfigureAwait(false);
            }

            foreach (KeyVersion leaked in keyring.Versions.Where(static v => v.State == KeyState.Compromised))
            {
                IReadOnlyList<string> kept = KeptCodes.Find(keyring, leaked.Version, keyring.Active, outcome.Labels.Keys, parameters);
                if (KeptCodes.Warning(kept, leaked.Version, keyring.Active, parameters) is { } warning)
                {
                    await err.WriteLineAsync(warning).ConfigureAwait(false);
                }
            }

            if (result.GetValue(report) is { } reportPath)
            {
                await ReportFile.WriteAsync(reportPath, json => WriteReport(json, outcome, findings, keyring), ct).ConfigureAwait(false);
            }

            int objectsWithFindings = findings.Select(static f => f.Key).Distinct(StringComparer.Ordinal).Count();
            string versions = string.Join(", ", outcome.Versions.OrderBy(static p => p.Key).Select(static p => $"v{p.Key}: {p.Value}"));
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"poscuda verify: {outcome.Checked} objects, {outcome.ContentChecked} checked against their original, {objectsWithFindings} with problems ({findings.Count} findings); key versions {(versions.Length == 0 ? "unknown" : versions)}{(outcome.NotChecked.Count > 0 ? "; some checks not possible (see stderr)" : "")}"));
            return findings.Count == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
        });
        return command;
    }

    private static void WriteReport(Utf8JsonWriter json, DatasetVerifier.Result outcome, IReadOnlyList<VerifyFinding> findings, Keyring keyring)
    {
        json.WriteStartObject();
        json.WriteString("keyId", keyring.KeyId);
        json.WriteNumber("objects", outcome.Checked);
        json.WriteNumber("contentChecked", outcome.ContentChecked);
        json.WriteStartObject("versions");
        foreach (KeyValuePair<int, long> pair in outcome.Versions.OrderBy(static p => p.Key))
        {
            json.WriteNumber(pair.Key.ToString(CultureInfo.InvariantCulture), pair.Value);
        }

        json.WriteEndObject();
        json.WriteStartArray("notChecked");
        foreach (string what in outcome.NotChecked)
        {
            json.WriteStringValue(what);
        }

        json.WriteEndArray();
        json.WriteStartArray("findings");
        foreach (VerifyFinding finding in findings)
        {
            json.WriteStartObject();
            json.WriteString("key", finding.Key);
            json.WriteString("kind", finding.Kind);
            json.WriteString("detail", finding.Detail);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
