namespace PosCuda.Shared.Ledger;

/// <summary>Groups planned objects by class and cuts each class into batches, topping up a class's last open batch first.</summary>
internal static class BatchPlanner
{
    /// <summary>One batch to write: a new one (<see cref="ExistingBatchId"/> null) or objects added to an open one.</summary>
    public sealed record Chunk(string Label, long? ExistingBatchId, List<PlannedObject> Objects);

    /// <summary>The last planned batch of a class and how many objects it holds.</summary>
    public readonly record struct OpenBatch(long BatchId, int Count);

    /// <summary>Validates <paramref name="objects"/> and cuts them into chunks, labels and keys in ordinal order.</summary>
    public static List<Chunk> Plan(IReadOnlyList<PlannedObject> objects, int batchSize, IReadOnlyDictionary<string, OpenBatch> open)
    {
        var byLabel = new SortedDictionary<string, List<PlannedObject>>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in objects)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(objects));
            if (string.IsNullOrEmpty(item.Key) || string.IsNullOrEmpty(item.Label))
            {
                throw new ArgumentException("Every planned object needs a key and a label.", nameof(objects));
            }

            if (item.Size < 0)
            {
                throw new ArgumentException($"Object '{item.Key}' has a negative size.", nameof(objects));
            }

            if (!keys.Add(item.Key))
            {
                throw new ArgumentException($"Object '{item.Key}' is listed twice.", nameof(objects));
            }

            if (!byLabel.TryGetValue(item.Label, out var list))
            {
                list = [];
                byLabel.Add(item.Label, list);
            }

            list.Add(item);
        }

        var chunks = new List<Chunk>();
        foreach (var (label, list) in byLabel)
        {
            list.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var index = 0;
            if (open.TryGetValue(label, out var last) && last.Count < batchSize)
            {
                var take = Math.Min(batchSize - last.Count, list.Count);
                chunks.Add(new Chunk(label, last.BatchId, list.GetRange(0, take)));
                index = take;
            }

            while (index < list.Count)
            {
                var take = Math.Min(batchSize, list.Count - index);
                chunks.Add(new Chunk(label, null, list.GetRange(index, take)));
                index += take;
            }
        }

        return chunks;
    }

    /// <summary>How many of <paramref name="chunks"/> are new batches: the batches a plan creates.</summary>
    public static int NewBatches(IReadOnlyList<Chunk> chunks)
    {
        var count = 0;
        foreach (var chunk in chunks)
        {
            count += chunk.ExistingBatchId is null ? 1 : 0;
        }

        return count;
    }
}
