namespace PosCuda.Engine.Processing;

/// <summary>A process-wide budget of bytes that objects take before they buffer anything, so the process stays within a memory limit.</summary>
/// <remarks>
/// An object waits until its bytes are free, so the number of objects in flight adapts to their sizes: many short
/// clips at once, or a few long recordings. Grants are first come, first served.
/// </remarks>
public sealed class MemoryBudget
{
    /// <summary>The default limit of <c>--memory-limit</c>: 256 MB for the whole process.</summary>
    public const long DefaultLimitBytes = 256L * 1000 * 1000;

    // What the runtime, the actors, the ledger and the code take whatever the objects do: not granted to objects.
    private const long ReservedBytes = 96L * 1000 * 1000;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _lock = new();
    private long _free;
    private int _waiting;
    private TaskCompletionSource? _released;

    /// <summary>A budget for a process limited to <paramref name="limitBytes"/> in all.</summary>
    public MemoryBudget(long limitBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limitBytes, 2 * ReservedBytes);
        LimitBytes = limitBytes;
        ObjectBytes = limitBytes - ReservedBytes;
        _free = ObjectBytes;
    }

    /// <summary>The whole process's limit.</summary>
    public long LimitBytes { get; }

    /// <summary>The bytes objects may hold at once (the limit less what the process needs anyway).</summary>
    public long ObjectBytes { get; }

    /// <summary>The bytes free now.</summary>
    public long FreeBytes
    {
        get
        {
            lock (_lock)
            {
                return _free;
            }
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> are free and takes them; dispose the grant to give them back.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is more than the whole budget.</exception>
    public async ValueTask<Grant> AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, ObjectBytes);
        lock (_lock)
        {
            // The common case, taken without queueing: nobody waits and the bytes are free.
            if (_waiting == 0 && _free >= bytes)
            {
                _free -= bytes;
                return new Grant(this, bytes);
            }

            _waiting++;
        }

        // One waiter at a time at the head of the queue: a large request is not starved by a stream of small ones.
        try
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_lock)
            {
                _waiting--;
            }

            throw;
        }

        try
        {
            while (true)
            {
                TaskCompletionSource? released;
                lock (_lock)
                {
                    if (_free >= bytes)
                    {
                        _free -= bytes;
                        _waiting--;
                        return new Grant(this, bytes);
                    }

                    released = _released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                try
                {
                    await released.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    lock (_lock)
                    {
                        _waiting--;
                    }

                    throw;
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }


    private void Release(long bytes)
    {
        TaskCompletionSource? released;
        lock (_lock)
        {
            _free += bytes;
            released = _released;
            _released = null;
        }

        released?.TrySetResult();
    }

    /// <summary>Bytes taken from a budget; disposing gives them back (once).</summary>
    public sealed class Grant : IDisposable
    {
        private MemoryBudget? _budget;

        internal Grant(MemoryBudget budget, long bytes)
        {
            _budget = budget;
            Bytes = bytes;
        }

        /// <summary>The bytes granted.</summary>
        public long Bytes { get; }

        /// <inheritdoc/>
        public void Dispose() => Interlocked.Exchange(ref _budget, null)?.Release(Bytes);
    }
}
