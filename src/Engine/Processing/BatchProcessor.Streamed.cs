using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using PosCuda.Shared;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Shared.Telemetry;

namespace PosCuda.Engine.Processing;

// Streaming (issue 13): a change that spans a long recording (poscuda-v2, poscuda-v1 whole mode) is made a window at a
// time: read the window (with its context), protect it, hand the changed bytes to the store, which writes them in order.
public sealed partial class BatchProcessor
{
    // The bytes of source one streamed step reads, about (a spec's own units may make it larger: one v2 group).
    private const long StreamStepBytes = 8L << 20;

    // A clip the spec changes throughout is streamed when reading it whole would take more than this.
    private const long WholeClipBytes = 32L << 20;

    // Whether to stream: a region too large for one window, or a whole-clip spec on a clip too large to hold cheaply;
    // and the spec can stream.
    private static bool ShouldStream(BatchContext context, ObjectReader reader, WavLayout layout, ProtectionRegion? region)
    {
        bool large = region is null
            ? reader.Length + (16 * layout.FrameCount) > WholeClipBytes
            : region.ReadLength(layout) > StreamStepBytes;
        return large && OpenStream(context, layout) is not null;
    }

    private static ProtectionStream? OpenStream(BatchContext context, WavLayout layout) =>
        context.Spec.OpenStream(layout, context.Patch, context.Lease.Job.Parameters, Math.Max(1, StreamStepBytes / layout.BlockAlign));

    // Protects the object a step at a time; the destination writes the source with each step's changed bytes, in order
    // (a folder: one front-to-back rewrite; S3: a multipart upload of the parts as they fill). Memory: one window, the
    // spec's working set and what the store buffers, whatever the clip's length.
    private async Task<ObjectResult> ProtectStreamedAsync(
        BatchContext context, BatchObject item, ObjectReader reader, WavLayout layout, CancellationToken cancellationToken)
    {
        JobDefinition job = context.Lease.Job;
        ProtectionStream plan = OpenStream(context, layout)!;
        long windowBytes = plan.MaxStepFrames * layout.BlockAlign;
        long need = windowBytes + plan.WorkingBytes + PatchedWriteBytes + reader.Prefix.Length;
        if (windowBytes > Array.MaxLength || (_budget is not null && need > _budget.ObjectBytes))
        {
            return Failed(
                item, job,
                string.Create(CultureInfo.InvariantCulture,
                    $"needs {need / 1_000_000.0:0.#} MB in memory to protect one window of it, more than --memory-limit leaves for objects ({(_budget?.ObjectBytes ?? Array.MaxLength) / 1_000_000.0:0.#} MB)"),
                reader);
        }

        using MemoryBudget.Grant? grant = await AcquireAsync(need, cancellationToken).ConfigureAwait(false);
        byte[] window = ArrayPool<byte>.Shared.Rent((int)windowBytes);
        ProtectionStream? stream = null;
        try
        {
            // A fresh pass for each try of the write (the publish fence may try again over another object).
            async IAsyncEnumerable<ObjectPatch> Steps([EnumeratorCancellation] CancellationToken token = default)
            {
                stream = OpenStream(context, layout)!;
                while (stream.NextStep() is { } step)
                {
                    Memory<byte> bytes = window.AsMemory(0, (int)step.ReadLength(layout));
                    await reader.ReadAsync(step.ReadOffset(layout), bytes, token).ConfigureAwait(false);
                    stream.ProtectStep(bytes.Span, step);
                    int from = (int)((step.ChangeFirstFrame - step.ReadFirstFrame) * layout.BlockAlign);
                    yield return new ObjectPatch(step.ChangeOffset(layout), bytes.Slice(from, (int)step.ChangeLength(layout)));
                }
            }

            PatchedWrite write;
            try
            {
                // Reading, protecting and writing interleave: the whole pass is timed as one protect stage.
                using StageTimer stage = PipelineTelemetry.StartStage(SpanNames.StageProtect);
                (PatchedWrite? written, string? refused) = await PublishFence.PutStreamedAsync(
                    context.Destination, item.Key, reader, () => Steps(), Metadata(context, reader.ETag),
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

            return Published(item, job, reader, write, stream!.Result.ClippedSamples);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }
}
