namespace PosCuda.Shared.Ledger;

/// <summary>An object that planning settled without a batch: skipped (not audio) or failed (no label).</summary>
public sealed record PlanningOutcome(string Key, ObjectOutcome Outcome, string Reason);
