using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

// Streaming (issue 13): whole-clip mode on a recording of any length, a chunk of the patch at a time.
public sealed partial class PoscudaV1
{
    /// <summary>
    /// Protects a clip of <paramref name="layout"/> in steps that change at most <paramref name="stepFrames"/> frames
    /// each and read their filter context (<c>h</c> frames before, <c>k - 1 - h</c> after) again from the source.
    /// </summary>
    public ProtectionStream OpenStream(WavLayout layout, ClassPatch patch, ProtectionParameters parameters, long stepFrames)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepFrames, 1);
        CheckPatch(patch, parameters);
        return new ChunkStream(this, layout, patch, PatchRange(layout.FrameCount, patch.Position, parameters), stepFrames);
    }

    private sealed class ChunkStream : ProtectionStream
    {
        private readonly PoscudaV1 _spec;
        private readonly ClassPatch _patch;
        private readonly long _start;
        private readonly long _end;
        private readonly long _stepFrames;
        private long _next;
        private long _clipped;

        public ChunkStream(PoscudaV1 spec, WavLayout layout, ClassPatch patch, (long Start, long Length) range, long stepFrames)
            : base(layout)
        {
            _spec = spec;
            _patch = patch;
            _start = range.Start;
            _end = range.Start + range.Length;
            _stepFrames = stepFrames;
            _next = _start;
        }

        public override long MaxStepFrames => Math.Min(Layout.FrameCount, Math.Min(_stepFrames, _end - _start) + _patch.Taps.Length - 1);

        // ProtectWindow's chunk buffers: taps, input and output of at most one chunk.
        public override long WorkingBytes => 8L * ((2 * Math.Min(_stepFrames, BatchingChunkSamples)) + (2 * _patch.Taps.Length));

        public override ProtectResult Result => new(_start, _end - _start, _clipped);

        public override ProtectionRegion? NextStep()
        {
            if (_next >= _end)
            {
                return null;
            }

            int k = _patch.Taps.Length;
            int h = (k - 1) / 2;
            long first = _next;
            long end = first + Math.Min(_stepFrames, _end - first);
            long readFirst = Math.Max(0, first - h);
            long readEnd = Math.Min(Layout.FrameCount, end + (k - 1 - h));
            _next = end;
            return new ProtectionRegion(readFirst, readEnd - readFirst, first, end - first);
        }

        public override void ProtectStep(Span<byte> window, ProtectionRegion step)
        {
            ArgumentNullException.ThrowIfNull(step);
            _clipped += _spec.ProtectWindow(window, step.ReadFirstFrame, Layout, _patch, step.ChangeFirstFrame, step.ChangeFrameCount).ClippedSamples;
        }
    }
}
