using System.Globalization;
using PosCuda.Coordinator.Planning;
using PosCuda.Coordinator.Reports;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Cli;

/// <summary>The protection parameters a published set was written with, for the commands that act on it again (<c>rekey</c>,
/// <c>submit --rekey</c>, <c>verify</c>): those given on the command line, else the latest job's in the ledger, else the
/// latest job's in the set's own manifests.</summary>
internal static class PublishedParameters
{
    /// <summary><paramref name="given"/> when <paramref name="wereGiven"/>; else the parameters of the latest protect or rekey job
    /// of <paramref name="destination"/> and key <paramref name="keyId"/> in <paramref name="ledger"/> (so a poscuda-v2 set
    /// stays poscuda-v2); else, where no ledger at hand knows the set (a cluster's, another machine's), those of the latest
    /// such job among the manifests under the destination (which travel with the set); else <paramref name="given"/> (the
    /// defaults). Which one is said on <paramref name="err"/>.</summary>
    public static async Task<ProtectionParameters> ResolveAsync(
        IWorkLedger? ledger, ObjectStoreCache stores, string destination, string keyId, ProtectionParameters given, bool wereGiven, TextWriter err,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(err);
        if (wereGiven)
        {
            return given;
        }

        JobRecord? latest = ledger is null ? null : (await ledger.ListJobsAsync(cancellationToken).ConfigureAwait(false))
            .Where(j => j.Definition.Destination == destination && j.Definition.KeyId == keyId
                && (j.Definition.Operation?.Kind ?? JobKind.Protect) != JobKind.Restore)
            .MaxBy(j => j.CreatedAt);
        if (latest is not null)
        {
            await err.WriteLineAsync(
                $"poscuda: using the parameters job {latest.JobId:D} wrote {destination} with: {Describe(latest.Definition.Parameters)} "
                + "(give --spec and its parameters to change them).").ConfigureAwait(false);
            return latest.Definition.Parameters;
        }

        // The manifests under the set describe the jobs that wrote it, wherever it has been copied since: no destination match.
        var unreadable = new List<string>();
        string manifests = ManifestsOf(destination);
        IReadOnlyList<ManifestReader.Head> heads = destination.StartsWith("s3://", StringComparison.Ordinal) || Directory.Exists(manifests)
            ? await ManifestReader.ReadHeadsAsync(stores.Get(manifests), unreadable, cancellationToken).ConfigureAwait(false)
            : [];
        ManifestReader.Head? recorded = heads
            .Where(h => h.KeyId == keyId && h.Kind != JobKind.Restore)
            .MaxBy(h => h.CreatedAt);
        foreach (string problem in unreadable)
        {
            await err.WriteLineAsync($"poscuda: a manifest was not read: {problem}").ConfigureAwait(false);
        }

        if (recorded is not null)
        {
            await err.WriteLineAsync(
                $"poscuda: using the parameters job {recorded.JobId:D} wrote {destination} with, from its manifest: {Describe(recorded.Parameters)} "
                + "(give --spec and its parameters to change them).").ConfigureAwait(false);
            return recorded.Parameters;
        }

        await err.WriteLineAsync(
            $"poscuda: no earlier job of key {keyId} wrote {destination} in the ledger or its manifests; using {Describe(given)}. "
            + "If the objects were protected otherwise, give the same --spec and parameters.").ConfigureAwait(false);
        return given;
    }

    /// <summary>Where a destination keeps its jobs' manifests.</summary>
    public static string ManifestsOf(string destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        string folder = JobPlanner.ReservedPrefix + "manifests";
        return destination.StartsWith("s3://", StringComparison.Ordinal)
            ? destination.TrimEnd('/') + "/" + folder
            : Path.Combine(destination, folder);
    }

    private static string Describe(ProtectionParameters p) => p.Spec == PoscudaV2.SpecName
        ? string.Create(CultureInfo.InvariantCulture, $"{p.Spec} ({p.Code.ToText()})")
        : string.Create(CultureInfo.InvariantCulture, $"{p.Spec} (k={p.Taps}, p={p.PatchLength}, b={p.Blur}, W={p.Window}, {PatchModeNames.ToName(p.Mode)})");
}
