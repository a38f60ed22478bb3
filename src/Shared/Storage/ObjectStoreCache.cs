using System.Collections.Concurrent;

namespace PosCuda.Shared.Storage;

/// <summary>Opens each object-store location once and shares it among batches.</summary>
public sealed class ObjectStoreCache : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<IObjectStore>> _stores = new(StringComparer.Ordinal);
    private readonly ObjectStoreOptions _options;
    private readonly Func<string, ObjectStoreOptions, IObjectStore> _open;

    public ObjectStoreCache(ObjectStoreOptions options)
        : this(options, ObjectStore.Open)
    {
    }

    /// <summary>A cache that opens each location with <paramref name="open"/> (a store wrapped for a test, say).</summary>
    public ObjectStoreCache(ObjectStoreOptions options, Func<string, ObjectStoreOptions, IObjectStore> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        _options = options;
        _open = open;
    }

    /// <summary>Returns the store at <paramref name="location"/>, opening it on first use.</summary>
    public IObjectStore Get(string location)
        => _stores.GetOrAdd(location, l => new Lazy<IObjectStore>(() => _open(l, _options))).Value;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (Lazy<IObjectStore> store in _stores.Values)
        {
            if (store.IsValueCreated)
            {
                await store.Value.DisposeAsync().ConfigureAwait(false);
            }
        }

        _stores.Clear();
    }
}
