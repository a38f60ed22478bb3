using PosCuda.Engine.Processing;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;
using PosCuda.Shared.Vault;

namespace PosCuda.Engine.Restore;

/// <summary>A restore job's work on one object: the published object and its restore record give back the original, byte for byte.</summary>
internal static class RestoreObject
{
    /// <summary>Reads the published object (the job's source), rebuilds its original, writes it to the job's destination.</summary>
    public static async Task<ObjectResult> ProcessAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        (MemoryBudget.Grant? grant, ObjectResult? tooLarge) = await BatchProcessor.HoldWholeAsync(
            context, item, copies: 1, "a restore rebuilds the whole published object in memory", cancellationToken).ConfigureAwait(false);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        using MemoryBudget.Grant? held = grant;
        (ObjectContent? content, ObjectResult? failed) = await BatchProcessor.GetAsync(context.Source, item, job, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return failed!;
        }

        using (content)
        {
            (RestoreEntry? entry, string? problem) = await context.Vault!.FindAsync(
                item.Key, PublishFence.PublishedJob(content.Metadata), content.Data, cancellationToken).ConfigureAwait(false);
            if (entry is null || !entry.TryRestore(content.Data.Span))
            {
                return BatchProcessor.Failed(item, job, problem ?? "no restore record matches the published object", content.ETag, content.Length);
            }

            string? outputETag;
            try
            {
                using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StagePut);
                outputETag = await context.Destination.PutAsync(item.Key, content.Data, s_noMetadata, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidObjectException e)
            {
                return BatchProcessor.Failed(item, job, e.Reason, content.ETag, content.Length);
            }

            return new ObjectResult(item.ObjectId, ObjectOutcome.Done, null, entry.KeyVersion, content.ETag, outputETag, content.Length, 0);
        }
    }

    private static readonly Dictionary<string, string> s_noMetadata = [];
}
