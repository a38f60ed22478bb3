using System.Collections.Concurrent;
using System.Globalization;
using PosCuda.Engine.Rekey;
using PosCuda.Engine.Restore;
using PosCuda.Engine.Vault;
using PosCuda.Shared;
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
    private readonly ConcurrentDictionary<string, VaultRecords> _vaultRecords = new(StringComparer.Ordinal);

    /// <summary>Creates the processor; <paramref name="engine"/> convolves poscuda-v1 patches (default: the CPU SIMD engine); <paramref name="vault"/> (the vault's private key) only where it rekeys or restores from restore records.</summary>
    public BatchProcessor(Keyring keyring, ObjectStoreCache stores, IWorkObserver? observer = null, IPatchEngine? engine = null, VaultKey? vault = null)
    {
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
        };
        Func<BatchContext, BatchObject, CancellationToken, Task<ObjectResult>> process = job.Kind switch
        {
            JobKind.Rekey => RekeyObject.PrepareAsync,
            JobKind.Restore => RestoreObject.ProcessAsync,
            _ => ProcessObjectAsync,
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
            async (index, ct) =>
            {
                using ObjectTelemetry telemetry = ObjectTelemetry.Start(lease.Objects[index]);
                ObjectResult result;
                try
                {
                    result = await process(context, lease.Objects[index], ct).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    telemetry.Fail(e);
                    throw;
                }

                telemetry.Complete(result);
                results[index] = result;
                _observer.ObjectCompleted(result);
            }).ConfigureAwait(false);

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
        JobDefinition job = context.Lease.Job;
        ObjectContent content;
        try
        {
            using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageGet);
            content = await context.Source.GetAsync(item.Key, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidObjectException e)
        {
            return Failed(item, job, e.Reason, null, 0);
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

        // The batch's entries, plus this object's source ETag.
        IReadOnlyDictionary<string, string> metadata = context.Metadata;
        if (content.ETag is not null)
        {
            metadata = new Dictionary<string, string>(context.Metadata, StringComparer.Ordinal) { [OutputMetadata.SourceETag] = content.ETag };
        }

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
            context.Records!.Add(RestoreEntry.Create(
                item.Key, context.Lease.JobId, job.KeyId, job.KeyVersion, job.Parameters.Spec, content.ETag, original, content.Data.Span));
        }

        return new ObjectResult(
            item.ObjectId, ObjectOutcome.Done, null, job.KeyVersion, content.ETag, outputETag, content.Length, protect.ClippedSamples);
    }

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
}
