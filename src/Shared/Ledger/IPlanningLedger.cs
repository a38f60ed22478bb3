namespace PosCuda.Shared.Ledger;

/// <summary>The planner's part of the ledger: creates a job, fills it with batches and starts it.</summary>
/// <remarks>Planning is restartable: a re-run finds its job (<see cref="FindJobAsync"/>) and continues after the last key it recorded.</remarks>
public interface IPlanningLedger
{
    /// <summary>Adds one chunk of a listing to a planning job in one transaction: objects to batch and objects settled without a batch.</summary>
    /// <remarks>
    /// What <see cref="AddObjectsAsync"/> and <see cref="RecordPlanningOutcomesAsync"/> do, at once: a planning that is killed
    /// leaves in the ledger exactly the listing up to some key (<see cref="GetPlanningProgressAsync"/>), never a gap.
    /// </remarks>
    /// <returns>The batches this call created (objects that topped up an open batch create none).</returns>
    Task<int> PlanObjectsAsync(
        Guid jobId, IReadOnlyList<PlannedObject> objects, IReadOnlyList<PlanningOutcome> outcomes, int batchSize, CancellationToken cancellationToken);

    /// <summary>Returns how far planning a job got: its greatest recorded key and what it planned, so an interrupted planning resumes after it.</summary>
    Task<PlanningProgress> GetPlanningProgressAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Records a new job in <see cref="JobState.Planning"/>.</summary>
    Task<Guid> CreateJobAsync(JobDefinition definition, CancellationToken cancellationToken);

    /// <summary>Returns the newest job that is not completed and has the same source, destination, label rule, parameters and key, or null.</summary>
    /// <remarks>Lets a re-run of the same command resume its job instead of starting over; attempt limits and trace parents are not compared.</remarks>
    Task<Guid?> FindJobAsync(JobDefinition definition, CancellationToken cancellationToken);

    /// <summary>Adds objects to a planning job in bulk, grouped into batches of at most <paramref name="batchSize"/> objects of one class.</summary>
    /// <remarks>Called once with the whole listing, or repeatedly with chunks of it; a batch never mixes classes.</remarks>
    Task AddObjectsAsync(Guid jobId, IReadOnlyList<PlannedObject> objects, int batchSize, CancellationToken cancellationToken);

    /// <summary>Records objects that planning settled without a batch (skipped or failed), so manifests and reports list them.</summary>
    /// <remarks>
    /// They belong to no batch and no class: <see cref="ILedgerReader.ReadObjectsAsync"/> returns them (with an empty label), the per-class
    /// counts of <see cref="ILedgerReader.GetJobStatusAsync"/> do not. Only while the job is planning; a key may be recorded once per job.
    /// </remarks>
    Task RecordPlanningOutcomesAsync(Guid jobId, IReadOnlyList<PlanningOutcome> outcomes, CancellationToken cancellationToken);

    /// <summary>Makes the batches planned so far claimable while planning goes on (streamed planning).</summary>
    /// <remarks>The job stays <see cref="JobState.Planning"/>, so it cannot complete before <see cref="StartJobAsync"/>; opened batches are no longer topped up by later <see cref="AddObjectsAsync"/> calls.</remarks>
    Task OpenPlannedBatchesAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>Ends planning: the job's batches become claimable.</summary>
    Task StartJobAsync(Guid jobId, CancellationToken cancellationToken);
}
