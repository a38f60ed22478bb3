namespace PosCuda.Coordinator.Planning;

/// <summary>What planning a job found.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Planned">Objects batched for protection.</param>
/// <param name="Classes">Distinct class labels.</param>
/// <param name="Batches">Batches created.</param>
/// <param name="Skipped">Objects that are not audio (kept out of the job).</param>
/// <param name="Failed">Objects that cannot be protected (no label, unsafe key).</param>
public sealed record PlanSummary(Guid JobId, long Planned, int Classes, long Batches, long Skipped, long Failed)
{
    /// <summary>One line for people: what was planned.</summary>
    public string Describe()
        => $"Planned job {JobId}: {Planned} objects in {Classes} classes ({Batches} batches), {Skipped} skipped, {Failed} failed while planning (no label, or a key the source or destination cannot hold)";
}
