namespace PosCuda.Shared.Ledger;

/// <summary>One database's SQL catalogue: the statements whose text differs between PostgreSQL and SQLite.</summary>
/// <remarks>
/// <see cref="SqlWorkLedger"/> runs them in the same order for both; statements written alike for both live in the core.
/// Parameters are named <c>@name</c>; ids, lease tokens and durations are bound as the dialect says
/// (<see cref="SqlWorkLedger"/>'s hooks).
/// </remarks>
internal sealed record LedgerSql
{
    /// <summary>Serialises migration runs inside the migration transaction, or null where the transaction already does.</summary>
    public required string? MigrationLock { get; init; }

    /// <summary>Creates the migration table if it is missing.</summary>
    public required string Bootstrap { get; init; }

    /// <summary>The migrations; element i is version i + 1.</summary>
    public required IReadOnlyList<string> Migrations { get; init; }

    /// <summary>Inserts a job (<c>@job</c> and the definition's parameters) in state planning.</summary>
    public required string CreateJob { get; init; }

    /// <summary>Returns a job's state (<c>@job</c>), locking its row where the database can, so planning calls of one job queue.</summary>
    public required string PlanningState { get; init; }

    /// <summary>
    /// The batches a claim of batch <c>@batch</c> may merge: pending, never attempted, same job (<c>@job</c>) and class (<c>@label</c>),
    /// in batch order, locked where the database locks rows: batch_id, object_count, the UTF-8 bytes of its objects' keys.
    /// </summary>
    public required string MergeCandidates { get; init; }

    /// <summary>Returns each class's newest planned batch of <c>@job</c>: label, batch_id, object_count.</summary>
    public required string OpenBatches { get; init; }

    /// <summary>Marks a planning job (<c>@job</c>) running.</summary>
    public required string StartJob { get; init; }

    /// <summary>Every job, newest first.</summary>
    public required string ListJobs { get; init; }

    /// <summary>The newest unfinished job with the definition's parameters: job_id.</summary>
    public required string FindJob { get; init; }

    /// <summary>Extends a lease (<c>@batch</c>, <c>@token</c>, <c>@duration</c>), returning lease_expires_at.</summary>
    public required string Heartbeat { get; init; }

    /// <summary>Marks a leased batch done if <c>@token</c> still holds it (the fence of completing).</summary>
    public required string FenceBatch { get; init; }

    /// <summary>Fails the objects of <c>@batch</c> that a completion left without a result.</summary>
    public required string FailLeftovers { get; init; }

    /// <summary>Gives a batch back without counting the attempt, returning state, attempts.</summary>
    public required string ReleaseVoluntary { get; init; }

    /// <summary>Gives a batch back with <c>@error</c>, dead-lettering it at the attempt limit, returning state, attempts.</summary>
    public required string ReleaseWithError { get; init; }

    /// <summary>Marks the pending objects of a dead batch (<c>@batch</c>) dead with <c>@reason</c>.</summary>
    public required string KillObjects { get; init; }

    /// <summary>Puts batches with lapsed leases back (or dead-letters them), returning batch_id, state, attempts, last_error.</summary>
    public required string RescueExpired { get; init; }

    /// <summary>Puts every leased batch of <c>@job</c> back to pending without counting the attempt.</summary>
    public required string ResetLeases { get; init; }

    /// <summary>Running jobs whose batches are all done or dead: job_id.</summary>
    public required string FindFinishedJobs { get; init; }

    /// <summary>Completes <c>@job</c> if it is running and finished.</summary>
    public required string CompleteJob { get; init; }

    /// <summary>Per class of <c>@job</c>: label, objects, done, failed, dead, clipped, bytes, recent objects, recent bytes (integers).</summary>
    public required string ClassObjects { get; init; }

    /// <summary>Per class of <c>@job</c>: label, pending (planned or pending), leased, done and dead batches, retries, claimable (pending) batches (integers).</summary>
    public required string ClassBatches { get; init; }
}
