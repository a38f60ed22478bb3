using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

/// <summary>
/// A clip protected step by step in bounded memory: each step reads a window of frames and changes some of them; the
/// steps' changed frames follow one another in ascending order, and together the steps change exactly what
/// <see cref="IProtectionSpec.Protect"/> changes, to the same bytes.
/// </summary>
/// <remarks>
/// Take the steps in order (<see cref="NextStep"/>, then <see cref="ProtectStep"/> with that step's window): a spec may
/// carry state from one step to the next (poscuda-v2's overlap-add across a group boundary). Each window holds the
/// source's original bytes, never bytes an earlier step changed.
/// </remarks>
public abstract class ProtectionStream
{
    /// <summary>A stream over a clip of <paramref name="layout"/>.</summary>
    protected ProtectionStream(WavLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
    }

    /// <summary>The clip's layout.</summary>
    public WavLayout Layout { get; }

    /// <summary>The most frames one step reads.</summary>
    public abstract long MaxStepFrames { get; }

    /// <summary>The bytes of memory a step needs besides its window.</summary>
    public abstract long WorkingBytes { get; }

    /// <summary>What protecting the steps taken so far did (the clip's result once every step is taken).</summary>
    public abstract ProtectResult Result { get; }

    /// <summary>The next step: the frames it reads and those it changes; null when the clip is done.</summary>
    public abstract ProtectionRegion? NextStep();

    /// <summary>Protects the changed frames of <paramref name="step"/> in <paramref name="window"/>, which holds the bytes of its read frames.</summary>
    public abstract void ProtectStep(Span<byte> window, ProtectionRegion step);
}
