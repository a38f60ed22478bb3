using System.Globalization;
using MathNet.Numerics;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Coordinator.Cli;

/// <summary>
/// Classes whose patch is the same under two key versions. poscuda-v2 draws a class's code from C(slots, weight) codes
/// (70 by default), so one rotation in 70 leaves a class's code as it was: its re-keyed objects are byte for byte what the
/// leaked version made, and whoever holds that version knows the class's code. (poscuda-v1's keyed taps never repeat.)
/// </summary>
internal static class KeptCodes
{
    /// <summary>The labels among <paramref name="labels"/> whose patch under <paramref name="to"/> equals that under
    /// <paramref name="from"/>, in ordinal order.</summary>
    public static IReadOnlyList<string> Find(Keyring keyring, int from, int to, IEnumerable<string> labels, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(parameters);
        if (from == to || !keyring.TryGetVersion(from, out KeyVersion? old) || !keyring.TryGetVersion(to, out KeyVersion? current))
        {
            return [];
        }

        IProtectionSpec spec = ProtectionSpecs.Get(parameters.Spec);
        return [.. labels.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Where(label =>
        {
            ClassPatch a = spec.DeriveClassPatch(old.Secret, label, parameters);
            ClassPatch b = spec.DeriveClassPatch(current.Secret, label, parameters);
            return a.Position == b.Position && a.Taps.AsSpan().SequenceEqual(b.Taps) && a.Code.AsSpan().SequenceEqual(b.Code);
        })];
    }

    /// <summary>Writes the warning for the classes of rekey job <paramref name="jobId"/> (its planned labels, from the ledger)
    /// that keep their patch from version <paramref name="from"/> to <paramref name="to"/>; nothing when none do.</summary>
    public static async Task WarnForJobAsync(
        IWorkLedger ledger, Guid jobId, Keyring keyring, int from, int to, ProtectionParameters parameters, TextWriter err, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(err);
        JobStatus? status = await ledger.GetJobStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> kept = Find(keyring, from, to, status?.Classes.Select(static c => c.Label) ?? [], parameters);
        if (Warning(kept, from, to, parameters) is { } warning)
        {
            await err.WriteLineAsync(warning).ConfigureAwait(false);
        }
    }

    /// <summary>The warning for <paramref name="kept"/> classes, or null when there are none.</summary>
    public static string? Warning(IReadOnlyList<string> kept, int from, int to, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(kept);
        ArgumentNullException.ThrowIfNull(parameters);
        if (kept.Count == 0)
        {
            return null;
        }

        string classes = string.Join(", ", kept.Take(10)) + (kept.Count > 10 ? $" and {kept.Count - 10} more" : "");
        return string.Create(
            CultureInfo.InvariantCulture,
            $"poscuda: warning: {kept.Count} class(es) have the same {parameters.Spec} code under key version {to} as under version {from} "
            + $"({classes}; one class in {Combinations(parameters)} keeps its code at each rotation): their objects are byte for byte "
            + $"what version {from} made. To change them, rotate again and rekey --from-version {to}.");
    }

    private static long Combinations(ProtectionParameters parameters) =>
        (long)Math.Round(SpecialFunctions.Binomial(parameters.Code.Slots, parameters.Code.Weight));
}
