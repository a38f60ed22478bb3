using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using PosCuda.Shared;
using PosCuda.Shared.Analysis;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Audit;

/// <summary>Computes feature tables, reading each clip once for every request that wants it, and caches them on disk.</summary>
/// <remarks>
/// A table's cache file is named by a SHA-256 over the store's location, the feature definition (<see cref="ClipFeatureExtractor.Describe"/>),
/// the attack and its seed, and every object's key, size and ETag (for files the ETag is the modification time and
/// length), so a changed, added or removed object, another attack or another feature setting misses the cache. Files
/// are written to a temporary name and renamed. Vectors are held in memory (4 bytes × dimension per clip, about 2 KB).
/// </remarks>
public sealed class FeatureCache
{
    private const string Magic = "poscuda-features/1";
    private readonly string? _folder;
    private readonly int _analysisRate;
    private readonly int _seed;
    private readonly string _definition;

    /// <summary>Creates a cache in <paramref name="folder"/> (null: no cache) for features at <paramref name="analysisRate"/>.</summary>
    public FeatureCache(string? folder, int analysisRate, int seed)
    {
        _folder = folder;
        _analysisRate = analysisRate;
        _seed = seed;
        _definition = new ClipFeatureExtractor(analysisRate).Describe();
    }

    /// <summary>Returns a table per request, in order: from the cache where it holds one, else computed (and cached).</summary>
    public async Task<IReadOnlyList<FeatureTable>> GetAsync(
        IObjectStore store, IReadOnlyList<FeatureRequest> requests, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(requests);
        var tables = new FeatureTable?[requests.Count];
        var paths = new string?[requests.Count];
        var missing = new List<int>();
        for (int r = 0; r < requests.Count; r++)
        {
            paths[r] = _folder is null ? null : Path.Combine(_folder, $"features-{CacheKey(store.Location, requests[r])}.bin");
            tables[r] = paths[r] is string path && File.Exists(path) ? TryRead(path, requests[r].Name) : null;
            if (tables[r] is null)
            {
                missing.Add(r);
            }
        }

        if (missing.Count > 0)
        {
            IReadOnlyList<FeatureTable> computed = await ComputeAsync(store, [.. missing.Select(r => requests[r])], concurrency, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < missing.Count; i++)
            {
                int r = missing[i];
                FeatureTable table = computed[i];
                if (paths[r] is string path)
                {
                    Write(path, table);
                    table = table with { CachePath = path };
                }

                tables[r] = table;
            }
        }

        return [.. tables.Select(t => t!)];
    }

    private async Task<IReadOnlyList<FeatureTable>> ComputeAsync(
        IObjectStore store, IReadOnlyList<FeatureRequest> requests, int concurrency, CancellationToken cancellationToken)
    {
        // One read per object for every request that wants it.
        var wanted = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int r = 0; r < requests.Count; r++)
        {
            foreach (PlannedObject item in requests[r].Items)
            {
                if (!wanted.TryGetValue(item.Key, out List<int>? list))
                {
                    wanted[item.Key] = list = [];
                }

                list.Add(r);
            }
        }

        var vectors = requests.Select(_ => new ConcurrentDictionary<string, float[]>(StringComparer.Ordinal)).ToArray();
        var failures = requests.Select(_ => new ConcurrentBag<(string, string)>()).ToArray();
        var extractors = new ConcurrentBag<ClipFeatureExtractor>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(wanted, options, async (entry, ct) =>
        {
            string key = entry.Key;
            DecodedClip clip;
            try
            {
                using ObjectContent content = await store.GetAsync(key, ct).ConfigureAwait(false);
                clip = DecodedClip.Decode(content.Data.Span, key);
            }
            catch (InvalidObjectException e)
            {
                foreach (int r in entry.Value)
                {
                    failures[r].Add((key, e.Reason));
                }

                return;
            }

            ClipFeatureExtractor extractor = extractors.TryTake(out ClipFeatureExtractor? pooled) ? pooled : new ClipFeatureExtractor(_analysisRate);
            try
            {
                double[] mono = clip.Mono();
                foreach (int r in entry.Value)
                {
                    AudioAttack? attack = requests[r].Attack;
                    double[] input = attack is null ? mono : attack.Apply(mono, clip.SampleRate, AudioAttack.RandomFor(_seed, attack.Name, key));
                    vectors[r][key] = extractor.Extract(input, clip.SampleRate);
                }
            }
            finally
            {
                extractors.Add(extractor);
            }
        }).ConfigureAwait(false);

        return [.. requests.Select((request, r) => new FeatureTable(
            request.Name,
            new Dictionary<string, float[]>(vectors[r], StringComparer.Ordinal),
            [.. failures[r].OrderBy(f => f.Item1, StringComparer.Ordinal)],
            null,
            FromCache: false))];
    }

    private string CacheKey(string location, FeatureRequest request)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{Magic}\n{location}\n{_definition}\n{request.Attack?.Name ?? "none"}\n{_seed}\n")));
        foreach (PlannedObject item in request.Items.OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{item.Key}\0{item.Size}\0{item.SourceETag}\n")));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..24];
    }

    private static void Write(string path, FeatureTable table)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            writer.Write(Magic);
            writer.Write(table.Vectors.Count);
            foreach ((string key, float[] vector) in table.Vectors.OrderBy(v => v.Key, StringComparer.Ordinal))
            {
                writer.Write(key);
                writer.Write(vector.Length);
                foreach (float value in vector)
                {
                    writer.Write(value);
                }
            }

            writer.Write(table.Failures.Count);
            foreach ((string key, string reason) in table.Failures)
            {
                writer.Write(key);
                writer.Write(reason);
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    private static FeatureTable? TryRead(string path, string name)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (reader.ReadString() != Magic)
            {
                return null;
            }

            int count = reader.ReadInt32();
            var vectors = new Dictionary<string, float[]>(count, StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string key = reader.ReadString();
                var vector = new float[reader.ReadInt32()];
                for (int j = 0; j < vector.Length; j++)
                {
                    vector[j] = reader.ReadSingle();
                }

                vectors[key] = vector;
            }

            int failed = reader.ReadInt32();
            var failures = new List<(string, string)>(failed);
            for (int i = 0; i < failed; i++)
            {
                failures.Add((reader.ReadString(), reader.ReadString()));
            }

            return new FeatureTable(name, vectors, failures, path, FromCache: true);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or FormatException or OutOfMemoryException)
        {
            // A damaged or truncated cache file is recomputed.
            return null;
        }
    }
}
