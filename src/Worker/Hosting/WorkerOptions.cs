namespace PosCuda.Worker.Hosting;

/// <summary>How a worker claims and processes batches; validated at construction.</summary>
public sealed record WorkerOptions
{
    public WorkerOptions(
        string workerId,
        int concurrency,
        int slots = 2,
        TimeSpan? leaseDuration = null,
        TimeSpan? idleDelay = null,
        Guid? jobId = null,
        bool exitWhenIdle = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        WorkerId = workerId;
        Concurrency = concurrency;
        Slots = slots;
        LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThan(LeaseDuration, TimeSpan.FromSeconds(1));
        IdleDelay = idleDelay ?? TimeSpan.FromSeconds(1);
        JobId = jobId;
        ExitWhenIdle = exitWhenIdle;
    }

    /// <summary>This worker's name in lease rows (host name and process id by default).</summary>
    public string WorkerId { get; }

    /// <summary>Objects in flight at once, over all slots.</summary>
    public int Concurrency { get; }

    /// <summary>Batches held at once, so one batch's tail overlaps the next's start.</summary>
    public int Slots { get; }

    /// <summary>How long a lease lasts without a heartbeat; heartbeats come every third of it.</summary>
    public TimeSpan LeaseDuration { get; }

    /// <summary>How long to wait before claiming again when nothing was claimable.</summary>
    public TimeSpan IdleDelay { get; }

    /// <summary>Claim batches of this job only, if set.</summary>
    public Guid? JobId { get; }

    /// <summary>Stop once nothing is claimable and no batch is in hand (the single-machine tool); otherwise run until stopped.</summary>
    public bool ExitWhenIdle { get; }

    /// <summary>The default worker id: host name and process id.</summary>
    public static string DefaultWorkerId() => $"{Environment.MachineName}/{Environment.ProcessId}";
}
