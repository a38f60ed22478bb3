using PosCuda.Shared.Protection;

namespace PosCuda.Shared.Ledger;

/// <summary>The text both ledgers store for states, outcomes and modes.</summary>
internal static class LedgerText
{
    /// <summary>The most characters of an error or reason the ledger keeps.</summary>
    public const int MaxErrorLength = 2000;

    public static string ToText(JobState state) => state switch
    {
        JobState.Planning => "planning",
        JobState.Running => "running",
        JobState.Completed => "completed",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown job state."),
    };

    public static JobState ParseJobState(string text) => text switch
    {
        "planning" => JobState.Planning,
        "running" => JobState.Running,
        "completed" => JobState.Completed,
        _ => throw new PosCudaException($"The ledger holds an unknown job state '{text}'."),
    };

    public static string ToText(ObjectOutcome outcome) => outcome switch
    {
        ObjectOutcome.Pending => "pending",
        ObjectOutcome.Done => "done",
        ObjectOutcome.Failed => "failed",
        ObjectOutcome.Dead => "dead",
        ObjectOutcome.Skipped => "skipped",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Unknown object outcome."),
    };

    public static ObjectOutcome ParseOutcome(string text) => text switch
    {
        "pending" => ObjectOutcome.Pending,
        "done" => ObjectOutcome.Done,
        "failed" => ObjectOutcome.Failed,
        "dead" => ObjectOutcome.Dead,
        "skipped" => ObjectOutcome.Skipped,
        _ => throw new PosCudaException($"The ledger holds an unknown object status '{text}'."),
    };

    public static string ToText(PatchMode mode) => PatchModeNames.ToName(mode);

    public static PatchMode ParseMode(string text) =>
        PatchModeNames.TryParse(text) ?? throw new PosCudaException($"The ledger holds an unknown patch mode '{text}'.");

    /// <summary>Cuts an error message to what the ledger keeps.</summary>
    public static string Truncate(string text) =>
        text.Length <= MaxErrorLength ? text : string.Concat(text.AsSpan(0, MaxErrorLength - 3), "...");

    /// <summary>The reason recorded on the objects of a dead-lettered batch.</summary>
    public static string DeadObjectReason(int attempts, string? lastError) =>
        Truncate($"batch dead-lettered after {attempts} attempts: {lastError}");
}
