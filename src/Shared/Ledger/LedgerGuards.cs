namespace PosCuda.Shared.Ledger;

/// <summary>Argument checks shared by both ledgers.</summary>
internal static class LedgerGuards
{
    public static void Definition(JobDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(definition.Parameters);
        ArgumentException.ThrowIfNullOrEmpty(definition.Source);
        ArgumentException.ThrowIfNullOrEmpty(definition.Destination);
        ArgumentException.ThrowIfNullOrEmpty(definition.LabelRule);
        ArgumentException.ThrowIfNullOrEmpty(definition.KeyId);
        ArgumentOutOfRangeException.ThrowIfLessThan(definition.KeyVersion, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(definition.MaxAttempts, 1);
    }

    public static void Claim(string workerId, TimeSpan leaseDuration)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
    }

    public static void Results(BatchLease lease, IReadOnlyList<ObjectResult> results)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(results);
        var seen = new HashSet<long>();
        foreach (var result in results)
        {
            ArgumentNullException.ThrowIfNull(result, nameof(results));
            if (result.Outcome is not (ObjectOutcome.Done or ObjectOutcome.Failed))
            {
                throw new ArgumentException($"Object {result.ObjectId}: a worker records Done or Failed, not {result.Outcome}.", nameof(results));
            }

            if (!seen.Add(result.ObjectId))
            {
                throw new ArgumentException($"Object {result.ObjectId} has more than one result.", nameof(results));
            }
        }
    }

    public static void PlanningOutcomes(IReadOnlyList<PlanningOutcome> outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var outcome in outcomes)
        {
            ArgumentNullException.ThrowIfNull(outcome, nameof(outcomes));
            if (string.IsNullOrEmpty(outcome.Key))
            {
                throw new ArgumentException("Every planning outcome needs a key.", nameof(outcomes));
            }

            if (outcome.Outcome is not (ObjectOutcome.Skipped or ObjectOutcome.Failed))
            {
                throw new ArgumentException($"Object '{outcome.Key}': planning settles objects as Skipped or Failed, not {outcome.Outcome}.", nameof(outcomes));
            }

            if (!keys.Add(outcome.Key))
            {
                throw new ArgumentException($"Object '{outcome.Key}' is listed twice.", nameof(outcomes));
            }
        }
    }
}
