using PosCuda.Engine.Vault;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;

namespace PosCuda.Engine.Processing;

/// <summary>What every object of a batch shares while it is processed.</summary>
internal sealed record BatchContext(
    BatchLease Lease, IProtectionSpec Spec, ClassPatch Patch, IObjectStore Source, IObjectStore Destination,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The worker's keyring.</summary>
    public required Keyring Keyring { get; init; }

    /// <summary>Every store the worker has open.</summary>
    public required ObjectStoreCache Stores { get; init; }

    /// <summary>The batch's restore records, when the job writes them.</summary>
    public RestoreRecordBatch? Records { get; init; }

    /// <summary>A rekey batch's prepared replacements, written once its restore record is (null: an object to look at again then).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<long, Rekey.RekeyObject.PendingWrite?>? PendingWrites { get; init; }

    /// <summary>The restore records a rekey or restore job reads.</summary>
    public VaultRecords? Vault { get; init; }

    /// <summary>The process's memory budget (<c>--memory-limit</c>), or null where nothing bounds it.</summary>
    public MemoryBudget? Budget { get; init; }

    /// <summary>Bytes a batch may hold until its end (a rekey's prepared replacements, restore record entries): 32 MiB.</summary>
    /// <remarks>What would take a batch past it is written at once instead, its own restore record ahead of it, so a batch
    /// of long recordings holds no more than the objects in flight (each within its memory grant) and this.</remarks>
    public const long DeferredBytesLimit = 32L << 20;

    private long _deferredBytes;

    /// <summary>Takes <paramref name="bytes"/> of <see cref="DeferredBytesLimit"/> for something held until the batch's end; false
    /// (nothing taken) when they would take the batch past it. Thread-safe; a call racing one that is refused may be refused
    /// too, which only sends its object ahead sooner.</summary>
    public bool TryDefer(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (Interlocked.Add(ref _deferredBytes, bytes) <= DeferredBytesLimit)
        {
            return true;
        }

        Interlocked.Add(ref _deferredBytes, -bytes);
        return false;
    }
}
