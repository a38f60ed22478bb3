using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>The frames protecting one clip changes, and the frames it reads to compute them (the change and its filter context).</summary>
/// <param name="ReadFirstFrame">The first frame read.</param>
/// <param name="ReadFrameCount">The number of frames read, inside <c>[0, N)</c>.</param>
/// <param name="ChangeFirstFrame">The first frame changed.</param>
/// <param name="ChangeFrameCount">The number of frames changed, inside the frames read.</param>
public sealed record ProtectionRegion(long ReadFirstFrame, long ReadFrameCount, long ChangeFirstFrame, long ChangeFrameCount)
{
    /// <summary>The offset in the file of the first byte read.</summary>
    public long ReadOffset(WavLayout layout) => Offset(layout, ReadFirstFrame);

    /// <summary>The number of bytes read.</summary>
    public long ReadLength(WavLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return ReadFrameCount * layout.BlockAlign;
    }

    /// <summary>The offset in the file of the first byte changed.</summary>
    public long ChangeOffset(WavLayout layout) => Offset(layout, ChangeFirstFrame);

    /// <summary>The number of bytes changed (every channel of the changed frames).</summary>
    public long ChangeLength(WavLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return ChangeFrameCount * layout.BlockAlign;
    }

    private static long Offset(WavLayout layout, long frame)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return layout.DataOffset + (frame * layout.BlockAlign);
    }
}
