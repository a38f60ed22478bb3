using System.Globalization;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Coordinator.Cli;

/// <summary>The protection parameters a published set was written with, for the commands that act on it again (<c>rekey</c>,
/// <c>submit --rekey</c>, <c>verify</c>): those given on the command line, else the latest job's in the ledger.</summary>
internal static class PublishedParameters
{
    /// <summary><paramref name="given"/> when <paramref name="wereGiven"/>; else the parameters of the latest protect or rekey job
    /// of <paramref name="destination"/> and key <paramref name="keyId"/> in <paramref name="ledger"/> (so a poscuda-v2 set
    /// stays poscuda-v2), or, with no such job, <paramref name="given"/> (the defaults); which one is said on
    /// <paramref name="err"/>.</summary>
    public static async Task<ProtectionParameters> ResolveAsync(
        IWorkLedger ledger, string destination, string keyId, ProtectionParameters given, bool wereGiven, TextWriter err, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(err);
        if (wereGiven)
        {
            return given;
        }

        JobRecord? latest = (await ledger.ListJobsAsync(cancellationToken).ConfigureAwait(false))
            .Where(j => j.Definition.Destination == destination && j.Definition.KeyId == keyId
                && (j.Definition.Operation?.Kind ?? JobKind.Protect) != JobKind.Restore)
            .MaxBy(j => j.CreatedAt);
        if (latest is null)
        {
            await err.WriteLineAsync(
                $"poscuda: no earlier job wrote {destination} in the ledger; using {Describe(given)}. "
                + "If the objects were protected otherwise, give the same --spec and parameters.").ConfigureAwait(false);
            return given;
        }

        await err.WriteLineAsync(
            $"poscuda: using the parameters job {latest.JobId:D} wrote {destination} with: {Describe(latest.Definition.Parameters)} "
            + "(give --spec and its parameters to change them).").ConfigureAwait(false);
        return latest.Definition.Parameters;
    }

    private static string Describe(ProtectionParameters p) => p.Spec == PoscudaV2.SpecName
        ? string.Create(CultureInfo.InvariantCulture, $"{p.Spec} ({p.Code.ToText()})")
        : string.Create(CultureInfo.InvariantCulture, $"{p.Spec} (k={p.Taps}, p={p.PatchLength}, b={p.Blur}, W={p.Window}, {PatchModeNames.ToName(p.Mode)})");
}
