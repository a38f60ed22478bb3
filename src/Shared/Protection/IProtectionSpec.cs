using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>One version of the protection spec: how a class key becomes a patch, and how a patch changes a clip.</summary>
public interface IProtectionSpec
{
    /// <summary>The spec's name, e.g. <c>poscuda-v1</c>; recorded on every job and output.</summary>
    string Name { get; }

    /// <summary>Derives the taps and position of <paramref name="label"/>'s class from a key version's secret.</summary>
    ClassPatch DeriveClassPatch(ReadOnlySpan<byte> secret, string label, ProtectionParameters parameters);

    /// <summary>Protects a whole WAV file in place; only the patch's sample bytes change.</summary>
    /// <exception cref="InvalidObjectException">The file is not a supported WAV file.</exception>
    ProtectResult Protect(Span<byte> wavFile, ClassPatch patch, ProtectionParameters parameters, string objectKey);

    /// <summary>The frames protecting a clip of <paramref name="layout"/> changes and reads, or null when the spec needs the whole clip at once.</summary>
    /// <remarks>A region lets a caller read and rewrite only those bytes of a long recording (<see cref="ProtectRegion"/>).</remarks>
    ProtectionRegion? PlanRegion(WavLayout layout, ClassPatch patch, ProtectionParameters parameters) => null;

    /// <summary>
    /// Protects the changed frames of <paramref name="region"/> in <paramref name="window"/>, which holds the bytes of its
    /// read frames; the result equals what <see cref="Protect"/> does to those bytes of the whole file.
    /// </summary>
    /// <exception cref="NotSupportedException">The spec plans no regions.</exception>
    ProtectResult ProtectRegion(Span<byte> window, ProtectionRegion region, WavLayout layout, ClassPatch patch, ProtectionParameters parameters)
        => throw new NotSupportedException($"{Name} protects whole clips only.");

    /// <summary>
    /// Opens a step-by-step protection of a clip of <paramref name="layout"/> whose steps change about
    /// <paramref name="stepFrames"/> frames each (as the spec's own units allow), or null when the spec cannot stream.
    /// </summary>
    /// <remarks>A recording of any length is protected this way in memory bounded by the step, not by the clip.</remarks>
    ProtectionStream? OpenStream(WavLayout layout, ClassPatch patch, ProtectionParameters parameters, long stepFrames) => null;
}
