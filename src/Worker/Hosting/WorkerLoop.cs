using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;
using PosCuda.Worker.Processing;

namespace PosCuda.Worker.Hosting;

/// <summary>The worker role: claims batches under a lease, heartbeats, processes them and completes them.</summary>
/// <remarks>
/// Stopping has two stages: <c>stopClaiming</c> (SIGTERM) lets batches in hand finish and be completed;
/// <c>abort</c> gives them back at once (voluntarily, so the attempt does not count).
/// </remarks>
public sealed class WorkerLoop
{
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(5);
    private readonly IWorkLedger _ledger;
    private readonly BatchProcessor _processor;
    private readonly WorkerOptions _options;
    private readonly ILogger _logger;
    private int _activeBatches;
    private int _completedBatches;
    private Task? _moreWorkUntil;

    public WorkerLoop(IWorkLedger ledger, BatchProcessor processor, WorkerOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(options);
        _ledger = ledger;
        _processor = processor;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Batches completed by this loop.</summary>
    public int CompletedBatches => Volatile.Read(ref _completedBatches);

    /// <summary>Runs until <paramref name="stopClaiming"/> is cancelled (or, with ExitWhenIdle, until no work is left).</summary>
    /// <param name="stopClaiming">Stops claiming; batches in hand are finished.</param>
    /// <param name="abort">Gives batches in hand back at once.</param>
    /// <param name="moreWorkUntil">With ExitWhenIdle: more batches may appear until this task ends (planning streams them).</param>
    public async Task RunAsync(CancellationToken stopClaiming, CancellationToken abort, Task? moreWorkUntil = null)
    {
        _moreWorkUntil = moreWorkUntil;
        int perSlot = Math.Max(1, (_options.Concurrency + _options.Slots - 1) / _options.Slots);
        var slots = new Task[_options.Slots];
        for (int i = 0; i < slots.Length; i++)
        {
            slots[i] = Task.Run(() => RunSlotAsync(perSlot, stopClaiming, abort), CancellationToken.None);
        }

        await Task.WhenAll(slots).ConfigureAwait(false);
    }

    private async Task RunSlotAsync(int concurrency, CancellationToken stopClaiming, CancellationToken abort)
    {
        int failures = 0;
        while (!stopClaiming.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            BatchLease? lease;
            DateTimeOffset claimedSince = DateTimeOffset.UtcNow;

            // Read before claiming: an empty claim proves no work is left only if planning had ended before it.
            bool noMoreWork = _moreWorkUntil is not { IsCompleted: false };
            Interlocked.Increment(ref _activeBatches);
            try
            {
                lease = await _ledger.ClaimBatchAsync(_options.WorkerId, _options.LeaseDuration, _options.JobId, abort).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception e) when (IsTransient(e) && !abort.IsCancellationRequested)
            {
                Interlocked.Decrement(ref _activeBatches);
                failures++;
                _logger.LogWarning("Claim failed ({Error}); retrying", e.Message);
                await DelayAsync(Backoff(failures), stopClaiming).ConfigureAwait(false);
                continue;
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                Interlocked.Decrement(ref _activeBatches);
                return;
            }

            if (lease is null)
            {
                int active = Interlocked.Decrement(ref _activeBatches);
                if (_options.ExitWhenIdle && active == 0 && noMoreWork)
                {
                    return;
                }

                await DelayAsync(_options.ExitWhenIdle ? TimeSpan.FromMilliseconds(50) : _options.IdleDelay, stopClaiming).ConfigureAwait(false);
                continue;
            }

            try
            {
                using BatchTelemetry telemetry = BatchTelemetry.Start(lease, _options.WorkerId, claimedSince);
                await RunBatchAsync(lease, concurrency, telemetry, abort).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _activeBatches);
            }
        }
    }

    private async Task RunBatchAsync(BatchLease lease, int concurrency, BatchTelemetry telemetry, CancellationToken abort)
    {
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(abort);
        using var heartbeatStop = new CancellationTokenSource();
        Task heartbeat = HeartbeatAsync(lease, leaseLost, heartbeatStop.Token);
        IReadOnlyList<ObjectResult>? results = null;
        string? error = null;
        try
        {
            results = await _processor.ProcessAsync(lease, concurrency, leaseLost.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
            error = null;
        }
        catch (Exception e)
        {
            error = e is PosCudaException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            _logger.LogError("Batch {BatchId} ({Label}) failed on attempt {Attempt}: {Error}", lease.BatchId, lease.Label, lease.Attempt, error);
        }
        finally
        {
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }

        if (results is not null)
        {
            telemetry.Completed(results);
            using Activity? completing = telemetry.StartCompletion();
            await FinishAsync(lease, () => _ledger.CompleteBatchAsync(lease, results, CancellationToken.None)).ConfigureAwait(false);
            Interlocked.Increment(ref _completedBatches);
            return;
        }

        if (leaseLost.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            telemetry.Lost();
            return; // The lease was lost: another worker owns the batch now, nothing to give back.
        }

        telemetry.Released(error);
        using Activity? releasing = telemetry.StartCompletion();
        await FinishAsync(lease, () => _ledger.ReleaseBatchAsync(lease, error, CancellationToken.None)).ConfigureAwait(false);
    }

    private async Task FinishAsync(BatchLease lease, Func<Task> finish)
    {
        // Completion must survive a ledger outage (PostgreSQL restarting): retry until the lease is lost or it lands.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await finish().ConfigureAwait(false);
                return;
            }
            catch (LeaseLostException)
            {
                Activity.Current?.SetTag(PipelineTags.Outcome, "lost");
                _logger.LogWarning("Lease on batch {BatchId} was lost before it could be finished; another worker will redo it", lease.BatchId);
                return;
            }
            catch (Exception e) when (IsTransient(e) && attempt < 60)
            {
                _logger.LogWarning("Finishing batch {BatchId} failed ({Error}); retrying", lease.BatchId, e.Message);
                await Task.Delay(Backoff(attempt)).ConfigureAwait(false);
            }
        }
    }

    private async Task HeartbeatAsync(BatchLease lease, CancellationTokenSource leaseLost, CancellationToken stop)
    {
        TimeSpan interval = _options.LeaseDuration / 3;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stop).ConfigureAwait(false);
                await _ledger.HeartbeatAsync(lease, _options.LeaseDuration, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (LeaseLostException)
            {
                _logger.LogWarning("Lease on batch {BatchId} was lost; abandoning it", lease.BatchId);
                await leaseLost.CancelAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (IsTransient(e))
            {
                _logger.LogWarning("Heartbeat for batch {BatchId} failed ({Error}); retrying", lease.BatchId, e.Message);
            }
            catch (Exception e)
            {
                // The lease can no longer be kept: stop working on the batch as if it were lost (its lease runs out and
                // it is rescued), rather than let the error escape and take the batch's finished results with it.
                _logger.LogError("Heartbeat for batch {BatchId} failed ({Error}); abandoning it", lease.BatchId, e.Message);
                await leaseLost.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private static bool IsTransient(Exception e)
        => e is PosCudaException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException or IOException;

    private static TimeSpan Backoff(int failures)
    {
        double ms = Math.Min(s_maxBackoff.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(failures, 10)));
        return TimeSpan.FromMilliseconds(ms * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
