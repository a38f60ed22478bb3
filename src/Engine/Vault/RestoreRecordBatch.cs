using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Vault;

namespace PosCuda.Engine.Vault;

/// <summary>One batch's restore records: the processor adds each published object's entry, and the batch's record is sealed and written once at its end.</summary>
/// <remarks>
/// Written before the batch is completed in the ledger, so a job never finishes with an object whose record is missing;
/// a redone batch writes its record again under the same name (the entries are the same, sealed afresh).
/// </remarks>
public sealed class RestoreRecordBatch
{
    private readonly List<RestoreEntry> _entries = [];
    private readonly VaultPublicKey _vault;
    private readonly string _store;
    private readonly Guid _job;
    private readonly long _batch;
    private readonly string _name;

    private RestoreRecordBatch(VaultPublicKey vault, string store, Guid job, long batch, string name)
    {
        _vault = vault;
        _store = store;
        _job = job;
        _batch = batch;
        _name = name;
    }

    /// <summary>The batch's record collector, or null when the job writes no restore records.</summary>
    public static RestoreRecordBatch? For(BatchLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        JobOperation? operation = lease.Job.Operation;
        if (operation?.VaultPublicKey is not { } publicKey || operation.VaultStore is not { } store)
        {
            return null;
        }

        // A protect redo rewrites its batch's record whole (it rebuilds every entry from the source); a rekey attempt
        // records only the objects it replaces, so each claim keeps its own record beside the earlier ones'.
        string name = RestoreRecord.ObjectKeyFor(lease.JobId, lease.BatchId);
        if (lease.Job.Kind == JobKind.Rekey)
        {
            name = name[..^".json".Length] + $"-{lease.LeaseToken:N}.json"; // Unique per claim (attempt numbers repeat after a reset).
        }

        return new RestoreRecordBatch(VaultPublicKey.Parse(publicKey), store, lease.JobId, lease.BatchId, name);
    }

    /// <summary>Adds the entry of an object that was published (thread-safe).</summary>
    public void Add(RestoreEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_entries)
        {
            _entries.Add(entry);
        }
    }

    /// <summary>Seals one entry into its own record object now, before its object is replaced (a rekey's retried object, after its batch's record).</summary>
    public async Task WriteAheadAsync(ObjectStoreCache stores, RestoreEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(entry);
        byte[] record = RestoreRecord.Seal(_vault, _job, _batch, [entry]);
        string name = _name[..^".json".Length]
            + "-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(entry.ObjectKey))[..8]) + ".json";
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["poscuda-vault-key-id"] = _vault.KeyId };
        await stores.Get(_store).PutAsync(name, record, metadata, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Seals the batch's entries to the vault key and writes them as one object of the vault store.</summary>
    public async Task WriteAsync(ObjectStoreCache stores, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stores);
        RestoreEntry[] entries;
        lock (_entries)
        {
            entries = [.. _entries.OrderBy(static e => e.ObjectKey, StringComparer.Ordinal)];
        }

        if (entries.Length == 0)
        {
            return;
        }

        byte[] record = RestoreRecord.Seal(_vault, _job, _batch, entries);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["poscuda-vault-key-id"] = _vault.KeyId };
        await stores.Get(_store).PutAsync(_name, record, metadata, cancellationToken).ConfigureAwait(false);
    }
}
