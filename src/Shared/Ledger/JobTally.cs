namespace PosCuda.Shared.Ledger;

/// <summary>Accumulates per-class counts read from either ledger into a <see cref="JobStatus"/>.</summary>
internal sealed class JobTally
{
    private readonly SortedDictionary<string, ClassCounts> _classes = new(StringComparer.Ordinal);
    private long _objectsLastMinute;
    private long _bytesLastMinute;
    private long _clipped;
    private long _bytes;

    /// <summary>Dead batches, in batch order.</summary>
    public List<DeadLetter> DeadLetters { get; } = [];

    public void AddObjects(string label, long objects, long done, long failed, long dead, long clipped, long bytes, long recentObjects, long recentBytes)
    {
        var counts = Get(label);
        counts.Objects += objects;
        counts.Done += done;
        counts.Failed += failed;
        counts.Dead += dead;
        _clipped += clipped;
        _bytes += bytes;
        _objectsLastMinute += recentObjects;
        _bytesLastMinute += recentBytes;
    }

    public void AddBatches(string label, int pending, int leased, int done, int dead, int retries)
    {
        var counts = Get(label);
        counts.PendingBatches += pending;
        counts.LeasedBatches += leased;
        counts.DoneBatches += done;
        counts.DeadBatches += dead;
        counts.Retries += retries;
    }

    public JobStatus ToStatus(JobRecord job)
    {
        var classes = new List<ClassStatus>(_classes.Count);
        foreach (var (label, c) in _classes)
        {
            classes.Add(new ClassStatus(
                label, c.Objects, c.Done, c.Failed, c.Dead, c.PendingBatches, c.LeasedBatches, c.DoneBatches, c.DeadBatches, c.Retries));
        }

        return new JobStatus(job, classes, _objectsLastMinute, _bytesLastMinute, _clipped, _bytes, DeadLetters);
    }

    private ClassCounts Get(string label)
    {
        if (!_classes.TryGetValue(label, out var counts))
        {
            counts = new ClassCounts();
            _classes.Add(label, counts);
        }

        return counts;
    }

    private sealed class ClassCounts
    {
        public long Objects { get; set; }

        public long Done { get; set; }

        public long Failed { get; set; }

        public long Dead { get; set; }

        public int PendingBatches { get; set; }

        public int LeasedBatches { get; set; }

        public int DoneBatches { get; set; }

        public int DeadBatches { get; set; }

        public int Retries { get; set; }
    }
}
