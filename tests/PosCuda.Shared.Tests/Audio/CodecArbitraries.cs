using FsCheck;
using FsCheck.Fluent;
using PosCuda.Shared.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Audio;

/// <summary>FsCheck generators of random WAV layouts and frame ranges (<see cref="CodecCase"/>).</summary>
public static class CodecArbitraries
{
    private static readonly (SampleFormat Format, int ContainerBytes)[] s_formats =
    [
        (SampleFormat.UnsignedPcm8, 1),
        (SampleFormat.SignedPcm, 2),
        (SampleFormat.SignedPcm, 3),
        (SampleFormat.SignedPcm, 4),
        (SampleFormat.IeeeFloat, 4),
        (SampleFormat.IeeeFloat, 8),
    ];

    private static readonly string[] s_chunkIds = ["LIST", "bext", "cue ", "fact", "PEAK", "junk", "smpl"];

    /// <summary>Random layouts: every format, 1-6 channels, 0-600 frames, plain or EXTENSIBLE, extra chunks of odd and even sizes.</summary>
    public static Arbitrary<CodecCase> CodecCases()
    {
        Gen<bool> flag = Gen.Elements(true, false);
        Gen<WavChunk> chunk =
            from id in Gen.Elements(s_chunkIds)
            from size in Gen.Choose(0, 41)
            from seed in Gen.Choose(0, 255)
            select WavChunk.Filler(id, size, (byte)seed);
        Gen<WavChunk[]> chunks = Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(chunk, n));

        Gen<CodecCase> cases =
            from format in Gen.Elements(s_formats)
            from channels in Gen.Choose(1, 6)
            from frames in Gen.Frequency((1, Gen.Choose(0, 3)), (4, Gen.Choose(0, 600)))
            from extensible in flag
            from fmtAfterData in flag
            from before in chunks
            from after in chunks
            from omitFinalPad in flag
            from noiseSeed in Gen.Choose(0, int.MaxValue - 1)
            from channel in Gen.Choose(0, channels - 1)
            from decodeStart in Gen.Choose(-40, frames + 40)
            from decodeLength in Gen.Choose(0, frames + 80)
            from encodeStart in Gen.Choose(0, frames)
            from encodeLength in Gen.Choose(0, frames - encodeStart)
            from valueSeed in Gen.Choose(0, int.MaxValue - 1)
            let builder = new WavBuilder
            {
                Format = format.Format,
                ContainerBytes = format.ContainerBytes,
                Channels = channels,
                Extensible = extensible,
                FmtAfterData = fmtAfterData,
                ChunksBeforeData = before,
                ChunksAfterData = after,
                OmitFinalPad = omitFinalPad,
            }.WithNoise(frames, noiseSeed)
            select new CodecCase(builder, frames, channel, decodeStart, decodeLength, encodeStart, encodeLength, valueSeed);

        return Arb.From(cases);
    }
}
