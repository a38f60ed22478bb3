using System.Buffers;
using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>poscuda-v2 over a clip of any length, a few groups of STFT frames per step (docs/spec.md, "Applying it to one clip").</summary>
/// <remarks>
/// Each group of 512 frames has its own energy budget, so a step needs only its groups' samples. A step reads the
/// samples its groups' frames cover, from <c>(512 g - 1) H</c> (the first frame's half before the group) to
/// <c>512 (g + 1) H</c>; it finishes every sample up to the last group's last hop, and carries the perturbation of the
/// last <c>H</c> samples (the first half of the next group's first frame overlaps them) to the next step, per channel,
/// so each sample's two frame contributions are added in the order the whole-clip path adds them.
/// </remarks>
internal sealed class SpectralCodeStream : ProtectionStream
{
    private readonly SpectralCodeFilter _filter;
    private readonly long _frames;
    private readonly long _groupCount;
    private readonly long _groupsPerStep;
    private readonly double[][] _carry;
    private long _nextGroup;
    private long _changedEnd;
    private int _carryLength;

    public SpectralCodeStream(WavLayout layout, SpectralCodeFilter filter, long stepFrames)
        : base(layout)
    {
        _filter = filter;
        _frames = layout.FrameCount;
        _groupCount = (filter.FrameCount(_frames) + SpectralCodeFilter.GroupFrames - 1) / SpectralCodeFilter.GroupFrames;
        long groupSamples = (long)SpectralCodeFilter.GroupFrames * filter.Hop;
        _groupsPerStep = Math.Clamp(stepFrames / groupSamples, 1, Math.Max(1, _groupCount));
        _carry = new double[layout.Channels][];
        for (int channel = 0; channel < _carry.Length; channel++)
        {
            _carry[channel] = new double[filter.Hop];
        }
    }

    public override long MaxStepFrames => Math.Min(_frames, (_groupsPerStep * SpectralCodeFilter.GroupFrames * (long)_filter.Hop) + _filter.Hop);

    // One channel's samples and perturbation in float64, the carries, and the filter's per-group tables.
    public override long WorkingBytes =>
        (16 * MaxStepFrames) + (8L * _filter.Hop * Layout.Channels) + (8L * _filter.FrameLength * 2)
        + (16L * SpectralCodeFilter.GroupFrames * (_filter.CodedBins + _filter.CodeLength));

    public override ProtectResult Result => new(0, _changedEnd, 0);

    public override ProtectionRegion? NextStep()
    {
        if (_nextGroup >= _groupCount)
        {
            return null;
        }

        long lastGroup = Math.Min(_groupCount, _nextGroup + _groupsPerStep) - 1;
        long readFirst = _filter.GroupSamples(_nextGroup, _frames).First;
        long readEnd = _filter.GroupSamples(lastGroup, _frames).End;

        // Samples up to the last group's last hop are final; the rest still gets the next group's first frame.
        long changeEnd = lastGroup == _groupCount - 1
            ? _frames
            : Math.Min(_frames, (((lastGroup + 1) * SpectralCodeFilter.GroupFrames) - 1) * _filter.Hop);
        return new ProtectionRegion(readFirst, readEnd - readFirst, _changedEnd, changeEnd - _changedEnd);
    }

    public override void ProtectStep(Span<byte> window, ProtectionRegion step)
    {
        ArgumentNullException.ThrowIfNull(step);
        long firstGroup = _nextGroup;
        long lastGroup = Math.Min(_groupCount, _nextGroup + _groupsPerStep) - 1;
        if (step.ChangeFirstFrame != _changedEnd || step.ReadFirstFrame != _filter.GroupSamples(firstGroup, _frames).First)
        {
            throw new InvalidOperationException("Steps must be protected in order, each once, as NextStep gives them.");
        }

        int count = (int)step.ReadFrameCount;
        long origin = step.ReadFirstFrame;
        long changeEnd = step.ChangeFirstFrame + step.ChangeFrameCount;
        int carryNext = (int)(origin + count - changeEnd);
        double[] x = ArrayPool<double>.Shared.Rent(count);
        double[] p = ArrayPool<double>.Shared.Rent(count);
        try
        {
            for (int channel = 0; channel < Layout.Channels; channel++)
            {
                Span<double> samples = x.AsSpan(0, count);
                Span<double> perturbation = p.AsSpan(0, count);
                SampleCodec.Decode(window, origin, Layout, channel, origin, samples);

                // The previous step's last frame's share of the first samples, then 0 (+0.0, as the whole-clip path starts).
                perturbation.Clear();
                _carry[channel].AsSpan(0, _carryLength).CopyTo(perturbation);
                for (long group = firstGroup; group <= lastGroup; group++)
                {
                    _filter.AddGroupPerturbation(samples, origin, _frames, group, perturbation);
                }

                int from = (int)(step.ChangeFirstFrame - origin);
                Span<double> changed = perturbation.Slice(from, (int)step.ChangeFrameCount);
                perturbation.Slice(count - carryNext, carryNext).CopyTo(_carry[channel]);
                ReadOnlySpan<double> original = samples.Slice(from, changed.Length);

                // A sample whose protected value would leave the format's range keeps its original value.
                SampleCodec.AddWithinRange(Layout, original, changed);

                SampleCodec.Encode(window, origin, Layout, channel, step.ChangeFirstFrame, changed);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(x);
            ArrayPool<double>.Shared.Return(p);
        }

        _carryLength = carryNext;
        _changedEnd = changeEnd;
        _nextGroup = lastGroup + 1;
    }
}
