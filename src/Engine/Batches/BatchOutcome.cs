namespace PosCuda.Engine.Batches;

/// <summary>How a batch attempt ended for the worker that held it.</summary>
public enum BatchOutcome
{
    /// <summary>Every object has a result, recorded in the ledger under the lease.</summary>
    Completed,

    /// <summary>Given back unfinished without counting the attempt (shutdown).</summary>
    Released,

    /// <summary>Given back after an error; the attempt counts towards dead-lettering.</summary>
    Failed,

    /// <summary>The lease was lost (expired, or taken back after this worker was thought gone): the ledger refused the write.</summary>
    Lost,
}
