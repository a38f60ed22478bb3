using System.Diagnostics;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Processing;

public sealed partial class BatchProcessor
{
    // A gathered group holds at most this many source bytes in memory, less where --memory-limit leaves less.
    private const long GatherBytes = 256L << 20;

    /// <summary>
    /// The batch for an engine that prefers batches: GET a group of clips, patch them all in one engine call, PUT them. An object
    /// larger than the ranged path's first read (<see cref="PrefixBytes"/>) goes alone through the ranged path, as on the CPU
    /// engine, which reads and writes less of it than a whole GET and PUT.
    /// </summary>
    /// <remarks>
    /// A group holds its sources and their protected copies (twice its source bytes) under one grant of the memory budget, so
    /// larger leases never take the process past <c>--memory-limit</c>.
    /// </remarks>
    private async Task ProcessGatheredAsync(
        BatchContext context, PoscudaV1 spec, int concurrency, ObjectResult[] results, CancellationToken cancellationToken)
    {
        IReadOnlyList<BatchObject> objects = context.Lease.Objects;
        long cap = Math.Min(GatherBytes, (_budget?.ObjectBytes ?? long.MaxValue) / 2);
        var gathered = new List<int>(objects.Count);
        var alone = new List<int>();
        for (int i = 0; i < objects.Count; i++)
        {
            (objects[i].Size <= Math.Min(cap, PrefixBytes) ? gathered : alone).Add(i);
        }

        int first = 0;
        while (first < gathered.Count)
        {
            int end = first;
            long bytes = 0;
            while (end < gathered.Count && bytes + objects[gathered[end]].Size <= cap)
            {
                bytes += objects[gathered[end]].Size;
                end++;
            }

            using (MemoryBudget.Grant? grant = await AcquireAsync(2 * bytes, cancellationToken).ConfigureAwait(false))
            {
                await ProcessGroupAsync(context, spec, gathered[first..end], concurrency, results, cancellationToken).ConfigureAwait(false);
            }

            first = end;
        }

        await Parallel.ForEachAsync(
            alone,
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (index, ct) => results[index] = await ProcessTracedAsync(ProcessProtectAsync, context, objects[index], ct).ConfigureAwait(false))
            .ConfigureAwait(false);
    }

    // The group's objects are the batch's objects at the given indices.
    private async Task ProcessGroupAsync(
        BatchContext context, PoscudaV1 spec, List<int> group, int concurrency, ObjectResult[] results, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        BatchObject[] objects = group.ConvertAll(i => context.Lease.Objects[i]).ToArray();
        var slot = new ObjectResult[group.Count];
        int count = group.Count;
        var contents = new ObjectContent?[count];
        var telemetry = new ObjectTelemetry[count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        Activity? batchSpan = Activity.Current;
        try
        {
            for (int i = 0; i < count; i++)
            {
                // Siblings under the batch's span, not nested in one another.
                telemetry[i] = ObjectTelemetry.Start(objects[i]);
                Activity.Current = batchSpan;
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, count), options, async (i, ct) =>
            {
                (contents[i], ObjectResult? failed) = await GetAsync(context.Source, objects[i], job, ct).ConfigureAwait(false);
                if (failed is not null)
                {
                    slot[i] = failed;
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
                    got.ConvertAll(i => contents[i]!.Data), got.ConvertAll(i => objects[i].Key), context.Patch, job.Parameters);
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, got.Count), options, async (g, ct) =>
            {
                int i = got[g];
                BatchObject item = objects[i];
                ObjectContent content = contents[i]!;
                slot[i] = outcomes[g].Result is { } protect
                    ? await PutProtectedAsync(context, item, content, protect, ct).ConfigureAwait(false)
                    : Failed(item, job, outcomes[g].Failure!.Reason, content.ETag, content.Length);
            }).ConfigureAwait(false);

            for (int i = 0; i < count; i++)
            {
                telemetry[i].Complete(slot[i]);
                _observer.ObjectCompleted(slot[i]);
                results[group[i]] = slot[i];
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
