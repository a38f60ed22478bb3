namespace PosCuda.Engine.Hosting;

/// <summary>How a node works on batches: its name, how many batches it holds at once and how many objects it has in flight.</summary>
public sealed record WorkerSettings
{
    /// <summary>Creates the settings.</summary>
    /// <param name="workerId">This node's name in the ledger (each slot appends <c>/slot-N</c>).</param>
    /// <param name="slots">Batches held at once (one <c>BatchWorker</c> actor each).</param>
    /// <param name="concurrency">Objects in flight at once on the node, shared by its slots.</param>
    /// <param name="leaseDuration">How long a lease lasts unless renewed (renewed every third of it).</param>
    public WorkerSettings(string workerId, int slots, int concurrency, TimeSpan? leaseDuration = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        WorkerId = workerId;
        Slots = slots;
        Concurrency = concurrency;
        LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(60);
        ArgumentOutOfRangeException.ThrowIfLessThan(LeaseDuration, TimeSpan.FromSeconds(1));
    }

    /// <summary>This node's name in the ledger.</summary>
    public string WorkerId { get; }

    /// <summary>Batches held at once.</summary>
    public int Slots { get; }

    /// <summary>Objects in flight at once on the node.</summary>
    public int Concurrency { get; }

    /// <summary>Objects in flight per slot.</summary>
    public int ConcurrencyPerSlot => Math.Max(1, (Concurrency + Slots - 1) / Slots);

    /// <summary>The lease length.</summary>
    public TimeSpan LeaseDuration { get; }

    /// <summary>
    /// Objects a slot takes in one lease: the class's never-attempted batches are merged into the claimed one up to this many (a GPU
    /// worker's larger batches); 0 (the default) takes each batch as planned.
    /// </summary>
    public int ClaimObjects
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    }

    /// <summary>The objects a GPU worker takes in one lease unless told otherwise: 16 batches of the default size.</summary>
    public const int GpuClaimObjects = 4096;

    /// <summary>The default node name: host and process id.</summary>
    public static string DefaultWorkerId() => $"{Environment.MachineName}/{Environment.ProcessId}";
}
