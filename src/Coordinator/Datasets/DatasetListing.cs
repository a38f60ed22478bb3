using PosCuda.Coordinator.Planning;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Datasets;

/// <summary>The labelled <c>.wav</c> objects of a dataset, sorted by key, as <c>protect</c> would plan them.</summary>
/// <remarks>
/// The same rules as planning a job: keys under <c>.poscuda/</c> are ignored, objects that are not <c>.wav</c> are
/// skipped, an object the label rule gives no label is listed with the reason. Holds one small record per object (a
/// key, a label, a size and an ETag), never audio.
/// </remarks>
public sealed class DatasetListing
{
    private DatasetListing(IReadOnlyList<PlannedObject> objects, IReadOnlyList<(string Key, string Reason)> unlabelled, long skipped)
    {
        Objects = objects;
        Unlabelled = unlabelled;
        Skipped = skipped;
    }

    /// <summary>The labelled objects, in ordinal key order.</summary>
    public IReadOnlyList<PlannedObject> Objects { get; }

    /// <summary>Objects the label rule could not label, with its reason.</summary>
    public IReadOnlyList<(string Key, string Reason)> Unlabelled { get; }

    /// <summary>Objects that are not <c>.wav</c>.</summary>
    public long Skipped { get; }

    /// <summary>The distinct labels in ordinal order.</summary>
    public IReadOnlyList<string> Labels()
    {
        var labels = new SortedSet<string>(StringComparer.Ordinal);
        foreach (PlannedObject item in Objects)
        {
            labels.Add(item.Label);
        }

        return [.. labels];
    }

    /// <summary>Lists and labels every object of <paramref name="store"/>.</summary>
    public static async Task<DatasetListing> ReadAsync(IObjectStore store, LabelRule labels, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(labels);
        var objects = new List<PlannedObject>();
        var unlabelled = new List<(string, string)>();
        long skipped = 0;
        await foreach (StoredObject item in store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            PlanningOutcome? settled = JobPlanner.Classify(item, labels, out PlannedObject? planned);
            if (settled?.Outcome == ObjectOutcome.Skipped)
            {
                skipped++;
            }
            else if (settled is not null)
            {
                unlabelled.Add((item.Key, settled.Reason));
            }
            else if (planned is not null)
            {
                objects.Add(planned);
            }
        }

        objects.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new DatasetListing(objects, unlabelled, skipped);
    }
}
