namespace PosCuda.Shared.Ledger;

/// <summary>A heartbeat or completion presented a lease token that no longer holds the batch.</summary>
public sealed class LeaseLostException : PosCudaException
{
    public LeaseLostException(long batchId)
        : base($"The lease on batch {batchId} was lost; its results were discarded.", isTransient: false)
    {
        BatchId = batchId;
    }

    /// <summary>The batch whose lease was lost.</summary>
    public long BatchId { get; }
}
