using System.Diagnostics;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Processing;

public sealed partial class BatchProcessor
{
    // A gathered group holds at most this many source bytes in memory (a batch of long clips goes group by group).
    private const long GatherBytes = 256L << 20;

    /// <summary>The batch for an engine that prefers batches: GET a group of objects, patch them all in one engine call, PUT them.</summary>
    private async Task ProcessGatheredAsync(
        BatchContext context, PoscudaV1 spec, int concurrency, ObjectResult[] results, CancellationToken cancellationToken)
    {
        IReadOnlyList<BatchObject> objects = context.Lease.Objects;
        int first = 0;
        while (first < objects.Count)
        {
            int end = first;
            long bytes = 0;
            while (end < objects.Count && (end == first || bytes + objects[end].Size <= GatherBytes))
            {
                bytes += objects[end].Size;
                end++;
            }

            await ProcessGroupAsync(context, spec, first, end, concurrency, results, cancellationToken).ConfigureAwait(false);
            first = end;
        }
    }

    private async Task ProcessGroupAsync(
        BatchContext context, PoscudaV1 spec, int first, int end, int concurrency, ObjectResult[] results, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        IReadOnlyList<BatchObject> objects = context.Lease.Objects;
        int count = end - first;
        var contents = new ObjectContent?[count];
        var telemetry = new ObjectTelemetry[count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        Activity? batchSpan = Activity.Current;
        try
        {
            for (int i = 0; i < count; i++)
            {
                // Siblings under the batch's span, not nested in one another.
                telemetry[i] = ObjectTelemetry.Start(objects[first + i]);
                Activity.Current = batchSpan;
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, count), options, async (i, ct) =>
            {
                (contents[i], ObjectResult? failed) = await GetAsync(context.Source, objects[first + i], job, ct).ConfigureAwait(false);
                if (failed is not null)
                {
                    results[first + i] = failed;
                }
            }).ConfigureAwait(false);

            var got = new List<int>(count);
            for (int i = 0; i < count; i++)
            {
                if (contents[i] is not null)
                {
                    got.Add(i);
                }
            }

            ProtectOutcome[] outcomes;
            using (PipelineTelemetry.StartStage(SpanNames.StageProtect))
            {
                outcomes = spec.ProtectMany(
                    got.ConvertAll(i => contents[i]!.Data), got.ConvertAll(i => objects[first + i].Key), context.Patch, job.Parameters);
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, got.Count), options, async (g, ct) =>
            {
                int i = got[g];
                BatchObject item = objects[first + i];
                ObjectContent content = contents[i]!;
                results[first + i] = outcomes[g].Result is { } protect
                    ? await PutProtectedAsync(context, item, content, protect, ct).ConfigureAwait(false)
                    : Failed(item, job, outcomes[g].Failure!.Reason, content.ETag, content.Length);
            }).ConfigureAwait(false);

            for (int i = 0; i < count; i++)
            {
                telemetry[i].Complete(results[first + i]);
                _observer.ObjectCompleted(results[first + i]);
            }
        }
        catch (Exception e)
        {
            for (int i = 0; i < count; i++)
            {
                telemetry[i].Fail(e);
            }

            throw;
        }
        finally
        {
            for (int i = count - 1; i >= 0; i--)
            {
                telemetry[i].Dispose();
                contents[i]?.Dispose();
            }
        }
    }
}
