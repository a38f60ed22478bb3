using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using PosCuda.Engine.Processing;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Batches;

/// <summary>One batch attempt, from the lease in hand to its completion or release: process, renew the lease, finish, fenced by the lease token.</summary>
/// <remarks>
/// Knows nothing of how the lease arrived (an actor, a test). Renewals run every third of the lease; a renewal the ledger refuses
/// means the lease is lost: the work stops and nothing is recorded. Completion and release survive a ledger outage: they are
/// retried (one Polly pipeline, one transient-error rule) until they land or the ledger refuses the token.
/// </remarks>
public sealed class BatchRunner
{
    private readonly IWorkLedger _ledger;
    private readonly BatchProcessor _processor;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _finishing;

    /// <summary>Creates a runner over a ledger and a processor.</summary>
    public BatchRunner(IWorkLedger ledger, BatchProcessor processor, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(processor);
        _ledger = ledger;
        _processor = processor;
        _logger = logger ?? NullLogger.Instance;
        _finishing = new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(TransientErrors.IsTransient),
                MaxRetryAttempts = 60,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    _logger.LogWarning("Recording a batch in the ledger failed ({Error}); retry {Attempt}", args.Outcome.Exception?.Message, args.AttemptNumber + 1);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Runs one batch attempt to its end.</summary>
    /// <param name="lease">The lease in hand.</param>
    /// <param name="workerId">The worker's name (telemetry and logs).</param>
    /// <param name="leaseDuration">How long each renewal extends the lease.</param>
    /// <param name="concurrency">Objects in flight at once.</param>
    /// <param name="claimedSince">When the worker asked for the batch (the span's start).</param>
    /// <param name="traceParent">The W3C traceparent of the claim, or null to join the job's trace directly.</param>
    /// <param name="renewed">Called after each renewal the ledger accepted.</param>
    /// <param name="abort">Gives the batch back at once, unfinished and without counting the attempt.</param>
    public async Task<BatchOutcome> RunAsync(
        BatchLease lease, string workerId, TimeSpan leaseDuration, int concurrency, DateTimeOffset claimedSince, string? traceParent,
        Action? renewed, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(lease);
        using BatchTelemetry telemetry = BatchTelemetry.Start(lease, workerId, claimedSince, traceParent);
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(abort);
        using var renewalStop = new CancellationTokenSource();
        Task renewal = RenewAsync(lease, leaseDuration, renewed, leaseLost, renewalStop.Token);
        IReadOnlyList<ObjectResult>? results = null;
        string? error = null;
        try
        {
            results = await _processor.ProcessAsync(lease, concurrency, leaseLost.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = e is PosCudaException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            _logger.LogError("Batch {BatchId} ({Label}) failed on attempt {Attempt}: {Error}", lease.BatchId, lease.Label, lease.Attempt, error);
        }
        finally
        {
            await renewalStop.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(false);
        }

        if (results is not null)
        {
            telemetry.Completed(results);
            using Activity? completing = telemetry.StartCompletion();
            return await FinishAsync(lease.BatchId, lease.Attempt, ct => _ledger.CompleteBatchAsync(lease, results, ct)).ConfigureAwait(false)
                ? BatchOutcome.Completed
                : BatchOutcome.Lost;
        }

        if (leaseLost.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            telemetry.Lost();
            return BatchOutcome.Lost; // Another worker owns the batch now: nothing to give back.
        }

        telemetry.Released(error);
        using Activity? releasing = telemetry.StartCompletion();
        bool released = await FinishAsync(lease.BatchId, lease.Attempt, ct => _ledger.ReleaseBatchAsync(lease.BatchId, lease.LeaseToken, error, ct)).ConfigureAwait(false);
        return !released ? BatchOutcome.Lost : error is null ? BatchOutcome.Released : BatchOutcome.Failed;
    }

    /// <summary>Gives back a batch that was never started, without counting the attempt (fenced by its token; a stale token is ignored).</summary>
    public async Task GiveBackAsync(long batchId, Guid leaseToken, int attempt)
        => await FinishAsync(batchId, attempt, ct => _ledger.ReleaseBatchAsync(batchId, leaseToken, null, ct)).ConfigureAwait(false);

    // False when the ledger refused the lease token (the batch was given to another worker meanwhile).
    private async Task<bool> FinishAsync(long batchId, int attempt, Func<CancellationToken, Task> finish)
    {
        try
        {
            await _finishing.ExecuteAsync(async ct => await finish(ct).ConfigureAwait(false), CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (LeaseLostException)
        {
            Activity.Current?.SetTag(PipelineTags.Outcome, "lost");
            _logger.LogWarning(
                "The ledger refused batch {BatchId} (attempt {Attempt}): its lease token is stale, another worker holds it; nothing recorded",
                batchId, attempt);
            return false;
        }
    }

    private async Task RenewAsync(BatchLease lease, TimeSpan leaseDuration, Action? renewed, CancellationTokenSource leaseLost, CancellationToken stop)
    {
        TimeSpan interval = leaseDuration / 3;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stop).ConfigureAwait(false);
                await _ledger.HeartbeatAsync(lease, leaseDuration, stop).ConfigureAwait(false);
                renewed?.Invoke();
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
            catch (Exception e) when (TransientErrors.IsTransient(e))
            {
                _logger.LogWarning("Renewing the lease on batch {BatchId} failed ({Error}); retrying", lease.BatchId, e.Message);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The lease can no longer be kept: stop as if it were lost (it runs out and the batch is rescued) rather than
                // let the error escape and take the batch's finished results with it.
                _logger.LogError("Renewing the lease on batch {BatchId} failed ({Error}); abandoning it", lease.BatchId, e.Message);
                await leaseLost.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
    }
}
