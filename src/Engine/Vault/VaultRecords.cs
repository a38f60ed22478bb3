using System.Collections.Concurrent;
using PosCuda.Shared;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Vault;

namespace PosCuda.Engine.Vault;

/// <summary>Restore records read from a vault store with the vault's private key, found by object key and the published bytes they belong to.</summary>
/// <remarks>
/// A job's records are read once per process (they are small: one object per batch). An object published by a known
/// job is looked up in that job's records only; one whose job is unknown (a folder keeps no metadata) in every job's.
/// An entry is opened only when its object is asked for; one that fails authentication is reported, never applied.
/// </remarks>
public sealed class VaultRecords
{
    private readonly ObjectStoreCache _stores;
    private readonly string _location;
    private readonly VaultKey _key;
    private readonly ConcurrentDictionary<string, Lazy<Task<RecordSet>>> _sets = new(StringComparer.Ordinal);

    /// <summary>Records of the vault store at <paramref name="location"/>, opened with <paramref name="key"/>.</summary>
    public VaultRecords(ObjectStoreCache stores, string location, VaultKey key)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(key);
        if (!key.HasPrivateKey)
        {
            throw new PosCudaException($"{key} is public only: restore records cannot be opened with it.");
        }

        _stores = stores;
        _location = location;
        _key = key;
    }

    /// <summary>The vault key's id.</summary>
    public string KeyId => _key.KeyId;

    /// <summary>The entry of <paramref name="objectKey"/> whose published bytes are <paramref name="published"/>, or why there is none.</summary>
    /// <param name="objectKey">The object's key.</param>
    /// <param name="job">The job that published it, when known (object metadata).</param>
    /// <param name="published">The published bytes.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public async Task<(RestoreEntry? Entry, string? Problem)> FindAsync(
        string objectKey, Guid? job, ReadOnlyMemory<byte> published, CancellationToken cancellationToken)
    {
        RecordSet set = await GetSetAsync(job is Guid id ? RestoreRecord.JobPrefix(id) : "records/").ConfigureAwait(false);
        if (!set.Entries.TryGetValue(objectKey, out List<(RestoreRecord Record, int Index)>? candidates))
        {
            string unread = set.Problems.Count > 0 ? $" ({set.Problems.Count} record objects unreadable: {set.Problems[0]})" : "";
            return (null, $"no restore record for this object in the vault{(job is null ? "" : $" for job {job:D}")}{unread}");
        }

        string? problem = null;
        foreach ((RestoreRecord record, int index) in candidates)
        {
            RestoreEntry entry;
            try
            {
                entry = record.Open(index);
            }
            catch (RestoreRecordException e)
            {
                problem ??= e.Message;
                continue;
            }

            if (entry.Matches(published.Span))
            {
                return (entry, null);
            }

            problem ??= $"the restore record in {record.Name} is for other bytes than those published (the object changed after it was protected)";
        }

        return (null, problem);
    }

    /// <summary>Every object key any readable record of the vault names.</summary>
    public async Task<IReadOnlyCollection<string>> KeysAsync()
        => (await GetSetAsync("records/").ConfigureAwait(false)).Entries.Keys;

    private Task<RecordSet> GetSetAsync(string prefix)
        => _sets.GetOrAdd(prefix, p => new Lazy<Task<RecordSet>>(() => LoadAsync(p))).Value;

    private async Task<RecordSet> LoadAsync(string prefix)
    {
        IObjectStore store = _stores.Get(_location);
        var set = new RecordSet();
        await foreach (StoredObject stored in store.ListAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (!stored.Key.StartsWith(prefix, StringComparison.Ordinal) || !stored.Key.EndsWith(".json", StringComparison.Ordinal))
            {
                continue;
            }

            using ObjectContent content = await store.GetAsync(stored.Key, CancellationToken.None).ConfigureAwait(false);
            RestoreRecord record;
            try
            {
                record = RestoreRecord.Read(content.Data.Span, _key, stored.Key);
            }
            catch (RestoreRecordException e)
            {
                set.Problems.Add(e.Message);
                continue;
            }

            for (int i = 0; i < record.Keys.Count; i++)
            {
                if (!set.Entries.TryGetValue(record.Keys[i], out List<(RestoreRecord, int)>? list))
                {
                    list = [];
                    set.Entries[record.Keys[i]] = list;
                }

                list.Add((record, i));
            }
        }

        return set;
    }

    private sealed class RecordSet
    {
        public Dictionary<string, List<(RestoreRecord Record, int Index)>> Entries { get; } = new(StringComparer.Ordinal);

        public List<string> Problems { get; } = [];
    }
}
