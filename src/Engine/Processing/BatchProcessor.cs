using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using PosCuda.Engine.Rekey;
using PosCuda.Engine.Restore;
using PosCuda.Engine.Vault;
using PosCuda.Shared;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;
using PosCuda.Shared.Vault;

namespace PosCuda.Engine.Processing;

/// <summary>Protects every object of a claimed batch: GET, patch, PUT, with bounded concurrency.</summary>
/// <remarks>
/// Bad input (<see cref="InvalidObjectException"/>) fails that object only and is never retried. Any other error
/// aborts the batch: the caller releases it, and a later attempt rewrites identical bytes (outputs are deterministic).
/// </remarks>
public sealed partial class BatchProcessor
{
    private readonly Keyring _keyring;
    private readonly ObjectStoreCache _stores;
    private readonly IWorkObserver _observer;
    private readonly IPatchEngine _engine;
    private readonly ConcurrentDictionary<(Guid Job, string Label), ClassPatch> _patches = new();
    private readonly VaultKey? _vault;
    private readonly MemoryBudget? _budget;
    private readonly ConcurrentDictionary<string, VaultRecords> _vaultRecords = new(StringComparer.Ordinal);

    /// <summary>Creates the processor; <paramref name="engine"/> convolves poscuda-v1 patches (default: the CPU SIMD engine); <paramref name="vault"/> (the vault's private key) only where it rekeys or restores from restore records.</summary>
    public BatchProcessor(
        Keyring keyring, ObjectStoreCache stores, IWorkObserver? observer = null, IPatchEngine? engine = null, VaultKey? vault = null,
        MemoryBudget? budget = null)
    {
        _budget = budget;
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(stores);
        _keyring = keyring;
        _stores = stores;
        _observer = observer ?? NullWorkObserver.Instance;
        _engine = engine ?? CpuSimdPatchEngine.Instance;
        _vault = vault;
    }

    /// <summary>Processes every object of <paramref name="lease"/> and returns one result per object.</summary>
    /// <exception cref="PosCudaException">The batch cannot be finished now (the keyring does not match, or a store failed).</exception>
    public async Task<IReadOnlyList<ObjectResult>> ProcessAsync(BatchLease lease, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        JobDefinition job = lease.Job;
        IProtectionSpec spec = ProtectionSpecs.Get(job.Parameters.Spec, _engine);
        ClassPatch? patch = job.Kind == JobKind.Restore ? null : GetPatch(lease, spec);
        IObjectStore source = _stores.Get(job.Source);
        IObjectStore destination = _stores.Get(job.Destination);
        var results = new ObjectResult[lease.Objects.Count];
        var context = new BatchContext(lease, spec, patch!, source, destination, BatchMetadata(lease))
        {
            Keyring = _keyring,
            Stores = _stores,
            Records = RestoreRecordBatch.For(lease),
            Vault = OpenVault(job),
            PendingWrites = job.Kind == JobKind.Rekey ? new() : null,
            Budget = _budget,
        };
        Func<BatchContext, BatchObject, CancellationToken, Task<ObjectResult>> process = job.Kind switch
        {
            JobKind.Rekey => RekeyObject.PrepareAsync,
            JobKind.Restore => RestoreObject.ProcessAsync,
            _ => ProcessProtectAsync,
        };
        if (_engine.PrefersBatches && spec is PoscudaV1 gathering && job.Kind == JobKind.Protect && context.Records is null)
        {
            // A device launch per clip would cost more than the clip's convolution: the batch's patches go in one call.
            // (A job that writes restore records, or rekeys or restores, goes object by object.)
            await ProcessGatheredAsync(context, gathering, concurrency, results, cancellationToken).ConfigureAwait(false);
            return results;
        }

        await Parallel.ForEachAsync(
            Enumerable.Range(0, lease.Objects.Count),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (index, ct) => results[index] = await ProcessTracedAsync(process, context, lease.Objects[index], ct).ConfigureAwait(false))
            .ConfigureAwait(false);

        if (job.Kind == JobKind.Rekey)
        {
            await RekeyObject.ReplaceAllAsync(context, results, concurrency, cancellationToken).ConfigureAwait(false); // Record before replace.
        }
        else if (context.Records is { } records)
        {
            await records.WriteAsync(_stores, cancellationToken).ConfigureAwait(false);
        }

        return results;
    }

    // The restore records a rekey or restore job reads, with this process's vault key.
    private VaultRecords? OpenVault(JobDefinition job)
    {
        if (job.Kind == JobKind.Protect || job.Operation?.VaultStore is not { } store || (job.Kind == JobKind.Rekey && job.Operation.Originals is not null))
        {
            return null;
        }

        if (_vault is null || !_vault.HasPrivateKey)
        {
            throw new PosCudaException($"This {job.Kind.ToString().ToLowerInvariant()} job reads restore records, but this worker holds no vault private key (--vault FILE).");
        }

        if (job.Operation.VaultKeyId is { } id && id != _vault.KeyId)
        {
            throw new PosCudaException($"The job's restore records are sealed to vault key {id}, but this worker holds vault key {_vault.KeyId}.");
        }

        return _vaultRecords.GetOrAdd(store, s => new VaultRecords(_stores, s, _vault));
    }

    private ClassPatch GetPatch(BatchLease lease, IProtectionSpec spec)
    {
        JobDefinition job = lease.Job;
        if (!string.Equals(job.KeyId, _keyring.KeyId, StringComparison.Ordinal))
        {
            throw new PosCudaException(
                $"Job {lease.JobId} was planned with key {job.KeyId}, but this worker's keyring holds key {_keyring.KeyId}.");
        }

        return _patches.GetOrAdd((lease.JobId, lease.Label), _ =>
        {
            KeyVersion version = _keyring.GetVersion(job.KeyVersion);
            return spec.DeriveClassPatch(version.Secret, lease.Label, job.Parameters);
        });
    }

    private static async Task<ObjectResult> ProcessObjectAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken)
    {
        // The clip, its original kept for the record, and the record's region.
        (MemoryBudget.Grant? grant, ObjectResult? tooLarge) = await HoldWholeAsync(
            context, item, copies: 2, "a job that writes restore records holds the whole clip and its original", cancellationToken).ConfigureAwait(false);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        using MemoryBudget.Grant? held = grant;
        (ObjectContent? content, ObjectResult? failed) = await GetAsync(context.Source, item, context.Lease.Job, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return failed!;
        }

        using (content)
        {
            return await ProtectAndPutAsync(context, item, content, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<ObjectResult> ProtectAndPutAsync(BatchContext context, BatchObject item, ObjectContent content, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        ProtectResult protect;
        byte[]? original = context.Records is null ? null : content.Data.ToArray(); // The restore record's source.
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageProtect);
            protect = context.Spec.Protect(content.Data.Span, context.Patch, job.Parameters, item.Key);
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, content.ETag, content.Length);
        }

        return await PutProtectedAsync(context, item, content, protect, original, cancellationToken).ConfigureAwait(false);
    }

    private static Task<ObjectResult> PutProtectedAsync(
        BatchContext context, BatchObject item, ObjectContent content, ProtectResult protect, CancellationToken cancellationToken)
        => PutProtectedAsync(context, item, content, protect, null, cancellationToken);

    // original: the object's bytes before protection, when the job writes restore records.
    private static async Task<ObjectResult> PutProtectedAsync(
        BatchContext context, BatchObject item, ObjectContent content, ProtectResult protect, byte[]? original, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;

        IReadOnlyDictionary<string, string> metadata = Metadata(context, content.ETag);
        string? outputETag;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StagePut);
            (outputETag, string? refused) = await PublishFence.PutProtectedAsync(
                context.Destination, item.Key, content.Data, metadata, job.KeyId, job.KeyVersion, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                return Failed(item, job, refused, content.ETag, content.Length);
            }
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, content.ETag, content.Length);
        }

        if (original is not null)
        {
            var entry = RestoreEntry.Create(
                item.Key, context.Lease.JobId, job.KeyId, job.KeyVersion, job.Parameters.Spec, content.ETag, original, content.Data.Span);
            if (context.TryDefer(entry.Original.Length))
            {
                context.Records!.Add(entry);
            }
            else
            {
                // The batch already holds its share of record entries (long recordings under poscuda-v2): this one goes now.
                await context.Records!.WriteAheadAsync(context.Stores, entry, cancellationToken).ConfigureAwait(false);
            }
        }

        return new ObjectResult(
            item.ObjectId, ObjectOutcome.Done, null, job.KeyVersion, content.ETag, outputETag, content.Length, protect.ClippedSamples)
        {
            BytesRead = content.Length,
            BytesWritten = content.Data.Length,
        };
    }

    // A source that changes while it is read is read again from the start, this many times in all.
    private const int MaxSourceAttempts = 3;

    // The first bytes read of every object: the header of a long recording, or the whole of a short clip.
    private const int PrefixBytes = 256 * 1024;

    // A protect job's object by ranges (header, region, patched copy) where nothing needs the whole object: no restore
    // record to write (a record holds the whole original). Every write goes through PublishFence.
    private Task<ObjectResult> ProcessProtectAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken) =>
        context.Records is null
            ? ProcessByRangesAsync(context, item, cancellationToken)
            : ProcessObjectAsync(context, item, cancellationToken);

    private async Task<ObjectResult> ProcessByRangesAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await ProcessOnceAsync(context, item, cancellationToken).ConfigureAwait(false);
            }
            catch (SourceChangedException) when (attempt < MaxSourceAttempts)
            {
                // Nothing was written: read the new version from the start.
            }
            catch (SourceChangedException e)
            {
                return Failed(item, context.Lease.Job, $"{e.Reason}; still changing after {attempt} attempts, nothing written", null, 0);
            }
        }
    }

    private async Task<ObjectResult> ProcessOnceAsync(BatchContext context, BatchObject item, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        ObjectReader reader;
        using (MemoryBudget.Grant? prefixGrant = await AcquireAsync(PrefixBytes, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageGet);
                reader = await context.Source.OpenReadAsync(item.Key, PrefixBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidObjectException e)
            {
                return Failed(item, job, e.Reason, null, 0);
            }
        }

        await using (reader.ConfigureAwait(false))
        {
            if (reader.HoldsWholeObject)
            {
                // A short clip, read whole with its header: protected in one buffer and written in one piece.
                return await ProtectWholeAsync(context, item, reader, frameCount: reader.Length, cancellationToken).ConfigureAwait(false);
            }

            WavLayout layout;
            try
            {
                layout = await WavReader.ReadLayoutAsync(reader, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidObjectException e)
            {
                return Failed(item, job, e.Reason, reader);
            }

            ProtectionRegion? region = context.Spec.PlanRegion(layout, context.Patch, job.Parameters);
            if (ShouldStream(context, reader, layout, region))
            {
                return await ProtectStreamedAsync(context, item, reader, layout, cancellationToken).ConfigureAwait(false);
            }

            return region is null
                ? await ProtectWholeAsync(context, item, reader, layout.FrameCount, cancellationToken).ConfigureAwait(false)
                : await ProtectRegionAsync(context, item, reader, layout, region, cancellationToken).ConfigureAwait(false);
        }
    }

    // Reads the patch and its filter context, patches them and has the destination write a copy of the source with them.
    private async Task<ObjectResult> ProtectRegionAsync(
        BatchContext context, BatchObject item, ObjectReader reader, WavLayout layout, ProtectionRegion region, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        long windowLength = region.ReadLength(layout);

        // The window, what the store may buffer to write (a short object whole, or one uploaded part), and the prefix.
        long need = windowLength + Math.Min(reader.Length, PatchedWriteBytes) + reader.Prefix.Length;
        if (windowLength > Array.MaxLength || (_budget is not null && need > _budget.ObjectBytes))
        {
            return TooLarge(item, job, reader, need);
        }

        using MemoryBudget.Grant? grant = await AcquireAsync(need, cancellationToken).ConfigureAwait(false);
        byte[] window = new byte[windowLength];
        ProtectResult protect;
        using (PipelineTelemetry.StartStage(SpanNames.StageGet))
        {
            await reader.ReadAsync(region.ReadOffset(layout), window, cancellationToken).ConfigureAwait(false);
        }

        using (PipelineTelemetry.StartStage(SpanNames.StageProtect))
        {
            protect = context.Spec.ProtectRegion(window, region, layout, context.Patch, job.Parameters);
        }

        var changed = new ObjectPatch(
            region.ChangeOffset(layout),
            window.AsMemory((int)((region.ChangeFirstFrame - region.ReadFirstFrame) * layout.BlockAlign), (int)region.ChangeLength(layout)));
        PatchedWrite write;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StagePut);
            (PatchedWrite? written, string? refused) = await PublishFence.PutPatchedAsync(
                context.Destination, item.Key, reader, changed.Bytes.IsEmpty ? [] : [changed], Metadata(context, reader.ETag),
                job.KeyId, job.KeyVersion, cancellationToken).ConfigureAwait(false);
            if (written is null)
            {
                return Failed(item, job, refused!, reader);
            }

            write = written;
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, reader);
        }

        return Published(item, job, reader, write, protect.ClippedSamples);
    }

    // An object read by ranges and written as a patched or streamed copy: what crossed the process counts.
    private static ObjectResult Published(BatchObject item, JobDefinition job, ObjectReader reader, PatchedWrite write, long clippedSamples) =>
        new(item.ObjectId, ObjectOutcome.Done, null, job.KeyVersion, reader.ETag, write.ETag, reader.Length, clippedSamples)
        {
            BytesRead = reader.BytesRead,
            BytesWritten = write.BytesWritten,
        };

    // A spec that changes the whole clip at once (poscuda-v2): the object is read whole, protected and written whole.
    // frameCount: the clip's frames, or an upper bound (its length in bytes) when the layout is not read yet.
    private async Task<ObjectResult> ProtectWholeAsync(
        BatchContext context, BatchObject item, ObjectReader reader, long frameCount, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;

        // The file, and the spec's two float64 copies of one channel (v2; v1 needs less).
        long need = reader.Length + (16 * frameCount);
        if (reader.Length > Array.MaxLength || (_budget is not null && need > _budget.ObjectBytes))
        {
            return TooLarge(item, job, reader, need);
        }

        using MemoryBudget.Grant? grant = await AcquireAsync(need, cancellationToken).ConfigureAwait(false);
        int length = (int)reader.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Memory<byte> data = buffer.AsMemory(0, length);
            using (PipelineTelemetry.StartStage(SpanNames.StageGet))
            {
                await reader.ReadAsync(0, data, cancellationToken).ConfigureAwait(false);
            }

            return await ProtectHeldAsync(context, item, reader, data, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<ObjectResult> ProtectHeldAsync(
        BatchContext context, BatchObject item, ObjectReader reader, Memory<byte> data, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;

        ProtectResult protect;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageProtect);
            protect = context.Spec.Protect(data.Span, context.Patch, job.Parameters, item.Key);
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, reader);
        }

        string? outputETag;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StagePut);
            (outputETag, string? refused) = await PublishFence.PutProtectedAsync(
                context.Destination, item.Key, data, Metadata(context, reader.ETag), job.KeyId, job.KeyVersion, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                return Failed(item, job, refused, reader);
            }
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, reader);
        }

        return new ObjectResult(
            item.ObjectId, ObjectOutcome.Done, null, job.KeyVersion, reader.ETag, outputETag, reader.Length, protect.ClippedSamples)
        {
            BytesRead = reader.BytesRead,
            BytesWritten = data.Length,
        };
    }

    // One object under its own span, counted by the observer when it ends.
    private async Task<ObjectResult> ProcessTracedAsync(
        Func<BatchContext, BatchObject, CancellationToken, Task<ObjectResult>> process, BatchContext context, BatchObject item, CancellationToken cancellationToken)
    {
        using ObjectTelemetry telemetry = ObjectTelemetry.Start(item);
        ObjectResult result;
        try
        {
            result = await process(context, item, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            telemetry.Fail(e);
            throw;
        }

        telemetry.Complete(result);
        _observer.ObjectCompleted(result);
        return result;
    }

    // What a store may buffer to write a patched copy: a short object whole, or one uploaded part of a multipart upload.
    private const long PatchedWriteBytes = 16L << 20;

    // Without a budget (tests, embedders that bound memory otherwise) nothing is waited for.
    private async ValueTask<MemoryBudget.Grant?> AcquireAsync(long bytes, CancellationToken cancellationToken) =>
        _budget is null ? null : await _budget.AcquireAsync(bytes, cancellationToken).ConfigureAwait(false);

    private ObjectResult TooLarge(BatchObject item, JobDefinition job, ObjectReader reader, long need) =>
        Failed(
            item, job,
            string.Create(CultureInfo.InvariantCulture,
                $"needs {need / 1_000_000.0:0.#} MB in memory to protect, more than --memory-limit leaves for objects ({(_budget?.ObjectBytes ?? Array.MaxLength) / 1_000_000.0:0.#} MB); {job.Parameters.Spec} with these settings reads the whole clip"),
            reader);

    // The batch's entries, plus this object's source ETag.
    private static IReadOnlyDictionary<string, string> Metadata(BatchContext context, string? sourceETag) =>
        sourceETag is null
            ? context.Metadata
            : new Dictionary<string, string>(context.Metadata, StringComparer.Ordinal) { [OutputMetadata.SourceETag] = sourceETag };

    // The output metadata every object of the batch shares, made once per batch.
    internal static Dictionary<string, string> BatchMetadata(BatchLease lease) => new(5, StringComparer.Ordinal)
    {
        [OutputMetadata.Spec] = lease.Job.Parameters.Spec,
        [OutputMetadata.KeyId] = lease.Job.KeyId,
        [OutputMetadata.KeyVersion] = lease.Job.KeyVersion.ToString(CultureInfo.InvariantCulture),
        [OutputMetadata.Job] = lease.JobId.ToString("D"),
    };

    internal static ObjectResult Failed(BatchObject item, JobDefinition job, string reason, string? sourceETag, long bytes)
        => new(item.ObjectId, ObjectOutcome.Failed, reason, job.KeyVersion, sourceETag, null, bytes, 0);

    /// <summary>
    /// Takes <paramref name="copies"/> times the object's planned size from the memory budget for a path that holds it whole
    /// (restore records, rekey, restore), waiting for it; an object that could never fit fails with the figure and
    /// <paramref name="holds"/> as the reason, before anything is read.
    /// </summary>
    internal static async Task<(MemoryBudget.Grant? Grant, ObjectResult? TooLarge)> HoldWholeAsync(
        BatchContext context, BatchObject item, int copies, string holds, CancellationToken cancellationToken)
    {
        long need = copies * Math.Max(item.Size, 0);
        if (context.Budget is not { } budget)
        {
            return (null, null);
        }

        if (need > budget.ObjectBytes)
        {
            return (null, Failed(
                item, context.Lease.Job,
                string.Create(CultureInfo.InvariantCulture,
                    $"needs {need / 1_000_000.0:0.#} MB in memory, more than --memory-limit leaves for objects ({budget.ObjectBytes / 1_000_000.0:0.#} MB): {holds}"),
                null, 0));
        }

        return (await budget.AcquireAsync(need, cancellationToken).ConfigureAwait(false), null);
    }

    /// <summary>Reads a whole object in the get stage; an object the store refuses (missing, not allowed) is a failed result, not an exception.</summary>
    internal static async Task<(ObjectContent? Content, ObjectResult? Failed)> GetAsync(
        IObjectStore store, BatchObject item, JobDefinition job, CancellationToken cancellationToken)
    {
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageGet);
            return (await store.GetAsync(item.Key, cancellationToken).ConfigureAwait(false), null);
        }
        catch (InvalidObjectException e)
        {
            return (null, Failed(item, job, e.Reason, null, 0));
        }
    }

    // A failure after the object was opened: what was read so far counts, nothing was written.
    private static ObjectResult Failed(BatchObject item, JobDefinition job, string reason, ObjectReader reader)
        => Failed(item, job, reason, reader.ETag, reader.Length) with { BytesRead = reader.BytesRead, BytesWritten = 0 };
}
