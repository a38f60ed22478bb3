namespace PosCuda.Shared.Ledger;

/// <summary>The life cycle of a job.</summary>
public enum JobState
{
    /// <summary>Being listed and batched; not yet claimable.</summary>
    Planning,

    /// <summary>Batches are claimable.</summary>
    Running,

    /// <summary>Every batch is done or dead; the manifest is written.</summary>
    Completed,
}
