namespace PosCuda.Shared.Ledger;

/// <summary>How far planning a job got.</summary>
/// <param name="LastKey">The greatest key recorded for the job (UTF-8 byte order, as both databases and S3 order keys), or null before the first chunk.</param>
/// <param name="Planned">Objects in batches.</param>
/// <param name="Batches">Batches created.</param>
/// <param name="Skipped">Objects settled as skipped while planning.</param>
/// <param name="Failed">Objects settled as failed while planning.</param>
/// <param name="Labels">The classes planned so far, in ordinal order.</param>
public sealed record PlanningProgress(string? LastKey, long Planned, long Batches, long Skipped, long Failed, IReadOnlyList<string> Labels);
