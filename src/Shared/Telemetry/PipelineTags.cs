namespace PosCuda.Shared.Telemetry;

/// <summary>Attribute names on the pipeline's spans and metrics: semantic-convention names where they exist, ours under <c>poscuda.*</c>.</summary>
public static class PipelineTags
{
    /// <summary>The job id (a GUID, <c>D</c> format).</summary>
    public const string JobId = "poscuda.job.id";

    /// <summary>The batch id.</summary>
    public const string BatchId = "poscuda.batch.id";

    /// <summary>The claim number of a batch: 1 for the first claim.</summary>
    public const string BatchAttempt = "poscuda.batch.attempt";

    /// <summary>Objects in a claimed batch.</summary>
    public const string BatchObjects = "poscuda.batch.objects";

    /// <summary>Objects of a completed batch that failed as bad input.</summary>
    public const string BatchFailedObjects = "poscuda.batch.failed_objects";

    /// <summary>The class label of a batch's objects.</summary>
    public const string Class = "poscuda.class";

    /// <summary>The object key, relative to the job's source.</summary>
    public const string ObjectKey = "poscuda.object.key";

    /// <summary>The outcome of an object (done, failed, error, cancelled) or a batch (completed, failed, released, lost).</summary>
    public const string Outcome = "poscuda.outcome";

    /// <summary>Why an object failed (names no secret).</summary>
    public const string FailureReason = "poscuda.failure.reason";

    /// <summary>The keyring's key id (public; never the secret).</summary>
    public const string KeyId = "poscuda.key.id";

    /// <summary>The key version that protects a job.</summary>
    public const string KeyVersion = "poscuda.key.version";

    /// <summary>The protection spec, e.g. <c>poscuda-v1</c>.</summary>
    public const string Spec = "poscuda.spec";

    /// <summary>The worker's name in the ledger.</summary>
    public const string WorkerId = "poscuda.worker.id";

    /// <summary>The stage of an object: get, protect or put.</summary>
    public const string Stage = "poscuda.stage";

    /// <summary>Bytes read from the source.</summary>
    public const string BytesRead = "poscuda.bytes.read";

    /// <summary>Bytes written to the destination.</summary>
    public const string BytesWritten = "poscuda.bytes.written";

    /// <summary>Samples clamped when encoding.</summary>
    public const string ClippedSamples = "poscuda.samples.clipped";

    /// <summary>Objects a job's planning batched.</summary>
    public const string PlannedObjects = "poscuda.plan.objects";

    /// <summary>Distinct classes a job's planning found.</summary>
    public const string PlannedClasses = "poscuda.plan.classes";

    /// <summary>Batches a job's planning created.</summary>
    public const string PlannedBatches = "poscuda.plan.batches";

    /// <summary>Objects planning skipped (not audio).</summary>
    public const string PlannedSkipped = "poscuda.plan.skipped";

    /// <summary>Objects planning failed (no label).</summary>
    public const string PlannedFailed = "poscuda.plan.failed";

    /// <summary>Expired leases one maintenance pass put back in play.</summary>
    public const string LeasesRescued = "poscuda.leases.rescued";

    /// <summary>Batches one maintenance pass dead-lettered.</summary>
    public const string BatchesDeadLettered = "poscuda.batches.dead_lettered";

    /// <summary>Why an object-store request was retried: throttled, server_error, timeout or network.</summary>
    public const string RetryCause = "poscuda.retry.cause";

    /// <summary>The role of the process: coordinator, worker or protect (a resource attribute).</summary>
    public const string Role = "poscuda.role";

    /// <summary>Semantic convention: the class of error an operation ended with.</summary>
    public const string ErrorType = "error.type";
}
