namespace PosCuda.Shared.Telemetry;

/// <summary>The names of the pipeline's spans and span events.</summary>
public static class SpanNames
{
    /// <summary>Planning a job: listing, labelling, creating batches (coordinator, <c>submit</c>, <c>protect</c>).</summary>
    public const string Plan = "poscuda.plan";

    /// <summary>One claimed batch on a worker, from the claim to its completion or release; child of the job's trace.</summary>
    public const string Batch = "poscuda.batch";

    /// <summary>A class shard claiming a batch in the ledger for a worker that asked; parent of that worker's <see cref="Batch"/> span.</summary>
    public const string Claim = "poscuda.claim";

    /// <summary>Recording a batch's results (or giving it back) in the ledger; child of <see cref="Batch"/>.</summary>
    public const string BatchComplete = "poscuda.batch.complete";

    /// <summary>One object of a batch: get, protect, put; child of <see cref="Batch"/>.</summary>
    public const string Object = "poscuda.object";

    /// <summary>A coordinator maintenance pass that rescued expired leases or dead-lettered batches.</summary>
    public const string Rescue = "poscuda.rescue";

    /// <summary>Event on <see cref="Plan"/>: the source listing is done.</summary>
    public const string ListedEvent = "poscuda.plan.listed";

    /// <summary>Event on <see cref="Batch"/>: the ledger granted the lease (the span starts when the claim was asked for).</summary>
    public const string ClaimedEvent = "poscuda.batch.claimed";

    /// <summary>The object stage that reads the source object.</summary>
    public const string StageGet = "get";

    /// <summary>The object stage that decodes, patches and encodes.</summary>
    public const string StageProtect = "protect";

    /// <summary>The object stage that writes the destination object.</summary>
    public const string StagePut = "put";
}
