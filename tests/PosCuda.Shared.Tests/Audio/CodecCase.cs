using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Audio;

/// <summary>One random codec scenario for the FsCheck properties: a WAV file description and frame ranges in it.</summary>
/// <param name="Builder">The file, with <see cref="Frames"/> frames of seeded noise.</param>
/// <param name="Frames">The number of frames N.</param>
/// <param name="Channel">The channel to decode or encode.</param>
/// <param name="DecodeStart">First frame to decode; may lie outside <c>[0, N)</c>.</param>
/// <param name="DecodeLength">Frames to decode.</param>
/// <param name="EncodeStart">First frame to encode, in <c>[0, N]</c>.</param>
/// <param name="EncodeLength">Frames to encode, within <c>[0, N)</c>.</param>
/// <param name="ValueSeed">Seed of the values to encode.</param>
public sealed record CodecCase(
    WavBuilder Builder,
    int Frames,
    int Channel,
    int DecodeStart,
    int DecodeLength,
    int EncodeStart,
    int EncodeLength,
    int ValueSeed)
{
    /// <inheritdoc/>
    public override string ToString()
        => $"{Builder.Format}/{Builder.ContainerBytes}B x{Builder.Channels} ext={Builder.Extensible} fmtAfter={Builder.FmtAfterData} "
            + $"before=[{Describe(Builder.ChunksBeforeData)}] after=[{Describe(Builder.ChunksAfterData)}] noPad={Builder.OmitFinalPad} "
            + $"N={Frames} ch={Channel} decode={DecodeStart}+{DecodeLength} encode={EncodeStart}+{EncodeLength} seed={ValueSeed}";

    private static string Describe(IReadOnlyList<WavChunk> chunks)
        => string.Join(",", chunks.Select(c => $"{c.Id}:{c.Payload.Length}"));
}
