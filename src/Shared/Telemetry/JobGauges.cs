using System.Diagnostics.Metrics;
using PosCuda.Shared.Ledger;

namespace PosCuda.Shared.Telemetry;

/// <summary>A snapshot of running jobs' batch counts that the coordinator refreshes each pass and the per-job gauges read.</summary>
/// <remarks>
/// Observable gauges are read on the exporter's schedule, never on the ledger's: the coordinator calls <see cref="Update"/>
/// with what it just read, and a collection only copies the cached numbers. A snapshot older than the maximum age
/// reports nothing, so a stalled or demoted coordinator leaves a gap rather than stale values.
/// </remarks>
public sealed class JobGauges
{
    private static readonly Snapshot s_empty = new([], DateTimeOffset.MinValue);
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxAge;
    private Snapshot _snapshot = s_empty;

    /// <summary>Creates an empty holder.</summary>
    /// <param name="timeProvider">The clock (default: system).</param>
    /// <param name="maxAge">How long a snapshot is reported after its update (default: 5 minutes).</param>
    public JobGauges(TimeProvider? timeProvider = null, TimeSpan? maxAge = null)
    {
        TimeSpan age = maxAge ?? TimeSpan.FromMinutes(5);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(age, TimeSpan.Zero, nameof(maxAge));
        _time = timeProvider ?? TimeProvider.System;
        _maxAge = age;
    }

    /// <summary>Replaces the snapshot with <paramref name="statuses"/>; jobs not in it stop being reported.</summary>
    public void Update(IEnumerable<JobStatus> statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        var jobs = new List<JobReading>();
        foreach (JobStatus status in statuses)
        {
            JobTotals totals = status.Totals;
            KeyValuePair<string, object?>[] tags = [new(PipelineTags.JobId, status.Job.JobId.ToString("D"))];
            jobs.Add(new JobReading(tags, totals.PendingBatches, totals.LeasedBatches, totals.DeadBatches, totals.Pending));
        }

        Volatile.Write(ref _snapshot, new Snapshot([.. jobs], _time.GetUtcNow()));
    }

    /// <summary>Forgets every job.</summary>
    public void Clear() => Volatile.Write(ref _snapshot, s_empty);

    /// <summary>Jobs in the current snapshot (empty once it is older than the maximum age).</summary>
    public int Count => Current().Length;

    /// <summary>The pending-batch measurements, one per job, tagged <c>poscuda.job.id</c>.</summary>
    public IEnumerable<Measurement<long>> ObservePendingBatches() => Observe(static j => j.PendingBatches);

    /// <summary>The leased-batch measurements, one per job.</summary>
    public IEnumerable<Measurement<long>> ObserveLeasedBatches() => Observe(static j => j.LeasedBatches);

    /// <summary>The dead-batch measurements, one per job.</summary>
    public IEnumerable<Measurement<long>> ObserveDeadBatches() => Observe(static j => j.DeadBatches);

    /// <summary>The unfinished-object measurements, one per job.</summary>
    public IEnumerable<Measurement<long>> ObservePendingObjects() => Observe(static j => j.PendingObjects);

    private Measurement<long>[] Observe(Func<JobReading, long> value)
    {
        JobReading[] jobs = Current();
        var measurements = new Measurement<long>[jobs.Length];
        for (int i = 0; i < jobs.Length; i++)
        {
            measurements[i] = new Measurement<long>(value(jobs[i]), jobs[i].Tags);
        }

        return measurements;
    }

    private JobReading[] Current()
    {
        Snapshot snapshot = Volatile.Read(ref _snapshot);
        return _time.GetUtcNow() - snapshot.Taken > _maxAge ? [] : snapshot.Jobs;
    }

    private sealed record Snapshot(JobReading[] Jobs, DateTimeOffset Taken);

    private sealed record JobReading(KeyValuePair<string, object?>[] Tags, long PendingBatches, long LeasedBatches, long DeadBatches, long PendingObjects);
}
