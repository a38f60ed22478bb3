namespace PosCuda.Shared.Ledger;

/// <summary>The final state of one object.</summary>
public enum ObjectOutcome
{
    /// <summary>Not processed yet.</summary>
    Pending,

    /// <summary>Protected and written.</summary>
    Done,

    /// <summary>Rejected as bad input; nothing written.</summary>
    Failed,

    /// <summary>Its batch was dead-lettered.</summary>
    Dead,

    /// <summary>Not audio; left out of the job.</summary>
    Skipped,
}
