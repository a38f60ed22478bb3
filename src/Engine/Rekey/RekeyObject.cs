using System.Globalization;
using PosCuda.Engine.Processing;
using PosCuda.Shared;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;
using PosCuda.Shared.Vault;

namespace PosCuda.Engine.Rekey;

/// <summary>A rekey job's work on one published object: if it is under the job's old version, rebuild its original, protect it under the active version, and replace it with a fenced write.</summary>
/// <remarks>
/// The job's source and destination are the published prefix. An object's version comes from its metadata
/// (<c>poscuda-key-version</c>) or, where the store keeps none, from its restore record or from protecting its original
/// under the old version and comparing. Objects under other versions are left untouched (recorded as done, with their
/// version and no output tag). The write is conditional on the ETag read: an object changed meanwhile is read again.
/// <para>Record before replace: a batch first prepares every object (read, rebuild, protect, in memory), then writes the
/// batch attempt's restore record, and only then replaces the objects. An attempt killed halfway leaves every replaced
/// object with a record; a redo finds those objects already under the new version and writes its own record. A batch
/// holds at most <see cref="BatchContext.DeferredBytesLimit"/> of prepared replacements and entries; an object that would
/// take it past that is written at once, its own record ahead of it, as a retried object is.</para>
/// </remarks>
internal static class RekeyObject
{
    private const int Tries = 3;

    /// <summary>Phase one: reads and prepares one object; its replacement waits in the context until the batch's record is written.</summary>
    public static Task<ObjectResult> PrepareAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken)
        => TryOnceAsync(context, item, writeNow: false, cancellationToken);

    /// <summary>Phase two: writes the batch's restore record, then replaces every prepared object with a fenced write.</summary>
    /// <param name="context">The batch.</param>
    /// <param name="results">Phase one's results, by object index; replaced with the final ones.</param>
    /// <param name="concurrency">Writes in flight.</param>
    /// <param name="cancellationToken">Cancels the batch.</param>
    public static async Task ReplaceAllAsync(BatchContext context, ObjectResult[] results, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(results);
        if (context.Records is { } records)
        {
            await records.WriteAsync(context.Stores, cancellationToken).ConfigureAwait(false);
        }

        IReadOnlyList<BatchObject> objects = context.Lease.Objects;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, objects.Count).Where(i => context.PendingWrites!.ContainsKey(objects[i].ObjectId)),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (index, ct) =>
            {
                BatchObject item = objects[index];
                context.PendingWrites!.TryRemove(item.ObjectId, out PendingWrite? write);
                for (int attempt = 1; ; attempt++)
                {
                    try
                    {
                        results[index] = write is null
                            ? await TryOnceAsync(context, item, writeNow: true, ct).ConfigureAwait(false)
                            : await ReplaceAsync(context, item, write, ct).ConfigureAwait(false);
                        return;
                    }
                    catch (PreconditionFailedException e) when (attempt >= Tries)
                    {
                        results[index] = BatchProcessor.Failed(item, context.Lease.Job, $"changed by another writer {Tries} times while re-keying: {e.Message}", null, 0);
                        return;
                    }
                    catch (PreconditionFailedException)
                    {
                        // Someone wrote the object since it was read: look at what is there now (its record goes ahead of it alone).
                        write = null;
                    }
                }
            }).ConfigureAwait(false);
    }

    private static async Task<ObjectResult> ReplaceAsync(BatchContext context, BatchObject item, PendingWrite write, CancellationToken cancellationToken)
    {
        string? outputETag;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StagePut);
            outputETag = await ((IConditionalObjectStore)context.Destination).PutAsync(
                item.Key, write.Output, write.Metadata, WriteCondition.Matching(write.ReadETag), cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidObjectException e)
        {
            return BatchProcessor.Failed(item, context.Lease.Job, e.Reason, write.ReadETag, write.Output.Length);
        }

        return write.Result with { OutputETag = outputETag };
    }

    private static async Task<ObjectResult> TryOnceAsync(BatchContext context, BatchObject item, bool writeNow, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        JobOperation operation = job.Operation!;
        (MemoryBudget.Grant? grant, ObjectResult? tooLarge) = await BatchProcessor.HoldWholeAsync(
            context, item, copies: 3, "a rekey holds the published object, its original and the re-protected copy", cancellationToken).ConfigureAwait(false);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        using MemoryBudget.Grant? held = grant;
        (ObjectContent? published, ObjectResult? failed) = await BatchProcessor.GetAsync(context.Destination, item, job, cancellationToken).ConfigureAwait(false);
        if (published is null)
        {
            return failed!;
        }

        using (published)
        {
            if (published.ETag is null)
            {
                return BatchProcessor.Failed(item, job, "the store gave no ETag to fence the replacement on", null, published.Length);
            }

            int? declared = PublishFence.PublishedVersion(published.Metadata, job.KeyId);
            Guid? publishedBy = PublishFence.PublishedJob(published.Metadata);
            if (published.Metadata.TryGetValue(OutputMetadata.KeyId, out string? otherKey) && otherKey != job.KeyId)
            {
                return Untouched(item, 0, published, $"protected under key {otherKey}, not {job.KeyId}");
            }

            if (declared is int version && version != operation.FromVersion)
            {
                // Already re-keyed by an earlier attempt of this job, or under some other version: left as it is.
                return Untouched(item, version, published, publishedBy == context.Lease.JobId ? null : "");
            }

            // The original, and the version the object is under where no metadata says.
            byte[] original;
            string? sourceETag;
            if (operation.Originals is { } originals)
            {
                using ObjectContent source = await context.Stores.Get(originals).GetAsync(item.Key, cancellationToken).ConfigureAwait(false);
                original = source.Data.ToArray();
                sourceETag = source.ETag;
                if (declared is null)
                {
                    int? found = TrialVersion(context, item, original, published.Data.Span, [operation.FromVersion, job.KeyVersion]);
                    if (found != operation.FromVersion)
                    {
                        return Untouched(item, found ?? 0, published, found is null ? "matches the original protected under no version tried" : "");
                    }
                }
            }
            else
            {
                (RestoreEntry? entry, string? problem) = await context.Vault!.FindAsync(item.Key, publishedBy, published.Data, cancellationToken).ConfigureAwait(false);
                if (entry is null)
                {
                    return BatchProcessor.Failed(item, job, problem ?? "no restore record matches the published object", published.ETag, published.Length);
                }

                if (entry.KeyVersion != operation.FromVersion || entry.KeyId != job.KeyId)
                {
                    return Untouched(item, entry.KeyVersion, published, entry.Job == context.Lease.JobId ? null : "");
                }

                original = published.Data.ToArray();
                entry.TryRestore(original);
                sourceETag = entry.SourceETag;
            }

            byte[] output = (byte[])original.Clone();
            ProtectResult protect;
            try
            {
                using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageProtect);
                protect = context.Spec.Protect(output, context.Patch, job.Parameters, item.Key);
            }
            catch (InvalidObjectException e)
            {
                return BatchProcessor.Failed(item, job, e.Reason, published.ETag, published.Length);
            }

            var metadata = new Dictionary<string, string>(context.Metadata, StringComparer.Ordinal);
            if (sourceETag is not null)
            {
                metadata[OutputMetadata.SourceETag] = sourceETag;
            }

            RestoreEntry? record = context.Records is null
                ? null
                : RestoreEntry.Create(item.Key, context.Lease.JobId, job.KeyId, job.KeyVersion, job.Parameters.Spec, sourceETag, original, output);
            var write = new PendingWrite(
                output, metadata, published.ETag,
                new ObjectResult(item.ObjectId, ObjectOutcome.Done, null, job.KeyVersion, published.ETag, null, output.Length, protect.ClippedSamples));
            if (!writeNow && context.TryDefer(output.Length + (record?.Original.Length ?? 0)))
            {
                if (record is not null)
                {
                    context.Records!.Add(record);
                }

                context.PendingWrites![item.ObjectId] = write;
                return write.Result;
            }

            // A retried object, or one that would take the batch past what it may hold until its end (long recordings):
            // written now, its own record ahead of it.
            if (record is not null)
            {
                await context.Records!.WriteAheadAsync(context.Stores, record, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await ReplaceAsync(context, item, write, cancellationToken).ConfigureAwait(false);
            }
            catch (PreconditionFailedException) when (!writeNow)
            {
                // Written meanwhile by someone else: phase two looks at it again, as it does for a prepared write.
                context.PendingWrites![item.ObjectId] = null;
                return write.Result;
            }
        }
    }

    /// <summary>A prepared replacement: the new bytes and metadata, the ETag they replace, and the result once written.</summary>
    internal sealed record PendingWrite(byte[] Output, Dictionary<string, string> Metadata, string ReadETag, ObjectResult Result);

    // Done without a write: the version it is under, no output tag; a reason only when it is not simply another version.
    private static ObjectResult Untouched(BatchObject item, int version, ObjectContent published, string? reason)
        => new(item.ObjectId, ObjectOutcome.Done, string.IsNullOrEmpty(reason) ? null : reason, version, published.ETag,
            reason is null ? published.ETag : null, published.Length, 0);

    // Which of versions, applied to the original, gives exactly the published bytes (a folder keeps no metadata).
    private static int? TrialVersion(BatchContext context, BatchObject item, byte[] original, ReadOnlySpan<byte> published, int[] versions)
    {
        JobDefinition job = context.Lease.Job;
        foreach (int version in versions)
        {
            if (!context.Keyring.TryGetVersion(version, out KeyVersion? key))
            {
                continue;
            }

            ClassPatch patch = context.Spec.DeriveClassPatch(key.Secret, context.Lease.Label, job.Parameters);
            byte[] trial = (byte[])original.Clone();
            try
            {
                context.Spec.Protect(trial, patch, job.Parameters, item.Key);
            }
            catch (InvalidObjectException)
            {
                return null;
            }

            if (trial.AsSpan().SequenceEqual(published))
            {
                return version;
            }
        }

        return null;
    }
}
