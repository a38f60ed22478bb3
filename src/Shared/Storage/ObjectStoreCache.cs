using System.Collections.Concurrent;

namespace PosCuda.Shared.Storage;

/// <summary>Opens each object-store location once and shares it among batches.</summary>
public sealed class ObjectStoreCache : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<IObjectStore>> _stores = new(StringComparer.Ordinal);
    private readonly ObjectStoreOptions _options;

    public ObjectStoreCache(ObjectStoreOptions options)
    {
        _options = options;
    }

    /// <summary>Returns the store at <paramref name="location"/>, opening it on first use.</summary>
    public IObjectStore Get(string location)
        => _stores.GetOrAdd(location, l => new Lazy<IObjectStore>(() => ObjectStore.Open(l, _options))).Value;

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
