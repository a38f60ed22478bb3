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

    /// <summary>A rekey batch's prepared replacements, written once its restore record is.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<long, Rekey.RekeyObject.PendingWrite>? PendingWrites { get; init; }

    /// <summary>The restore records a rekey or restore job reads.</summary>
    public VaultRecords? Vault { get; init; }

    /// <summary>The process's memory budget (<c>--memory-limit</c>), or null where nothing bounds it.</summary>
    public MemoryBudget? Budget { get; init; }
}
