using System.Buffers.Binary;
using PosCuda.Shared.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Audio;

public sealed class WavReaderTests
{
    private const string Key = "yes/clip_0.wav";

    private static readonly WavBuilder s_stereo16 = new WavBuilder { Channels = 2, ContainerBytes = 2, SampleRate = 8000 }
        .WithSamples([0.5, -0.5, 0.25, -0.25, 0.0, 1.0 / 32768]);

    // ---- accepted layouts ----

    [Fact]
    public void ReadLayout_CanonicalPcm16_ReturnsLayout()
    {
        byte[] file = s_stereo16.Build(out int dataOffset);

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(new WavLayout(SampleFormat.SignedPcm, 2, 8000, 2, 4, 44, 12), layout);
        Assert.Equal(44, dataOffset);
        Assert.Equal(3, layout.FrameCount);
    }

    [Fact]
    public void ReadLayout_FmtAfterData_ReturnsLayout()
    {
        byte[] file = (s_stereo16 with { FmtAfterData = true }).Build(out int dataOffset);

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(20, dataOffset);
        Assert.Equal(new WavLayout(SampleFormat.SignedPcm, 2, 8000, 2, 4, 20, 12), layout);
    }

    [Fact]
    public void ReadLayout_UnknownChunksAround_SkipsThem()
    {
        WavBuilder builder = s_stereo16 with
        {
            ChunksBeforeData = [WavChunk.Filler("LIST", 26), WavChunk.Filler("fact", 4), WavChunk.Filler("bext", 602)],
            ChunksAfterData = [WavChunk.Filler("cue ", 24), WavChunk.Filler("PEAK", 24)],
        };
        byte[] file = builder.Build(out int dataOffset);

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(44 + (8 + 26) + (8 + 4) + (8 + 602), dataOffset);
        Assert.Equal(dataOffset, layout.DataOffset);
        Assert.Equal(12, layout.DataLength);
    }

    [Fact]
    public void ReadLayout_OddChunkWithPad_SkipsPadByte()
    {
        byte[] file = (s_stereo16 with { ChunksBeforeData = [WavChunk.Filler("junk", 13)] }).Build(out int dataOffset);

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(44 + 8 + 13 + 1, dataOffset);
        Assert.Equal(dataOffset, layout.DataOffset);
    }

    [Fact]
    public void ReadLayout_OddDataWithPadThenChunk_ReadsBoth()
    {
        // 3 channels x 3 bytes x 5 frames = 45 bytes: odd data followed by a pad byte and another chunk.
        WavBuilder builder = new WavBuilder { Channels = 3, ContainerBytes = 3 }.WithNoise(5, seed: 7) with
        {
            ChunksAfterData = [WavChunk.Filler("LIST", 7)],
        };
        byte[] file = builder.Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(45, layout.DataLength);
        Assert.Equal(5, layout.FrameCount);
        Assert.Equal(44 + 45 + 1 + 8 + 7 + 1, file.Length);
    }

    [Fact]
    public void ReadLayout_OddLastChunkWithoutPad_IsAccepted()
    {
        byte[] file = (new WavBuilder { Channels = 3, ContainerBytes = 3 }.WithNoise(5, seed: 1) with { OmitFinalPad = true }).Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(44 + 45, file.Length);
        Assert.Equal(45, layout.DataLength);
    }

    [Fact]
    public void ReadLayout_OddLastUnknownChunkWithoutPad_IsAccepted()
    {
        byte[] file = (s_stereo16 with { ChunksAfterData = [WavChunk.Filler("LIST", 9)], OmitFinalPad = true }).Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(44 + 12 + 8 + 9, file.Length);
        Assert.Equal(12, layout.DataLength);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(36u)]
    [InlineData(0xFFFFFFFFu)]
    public void ReadLayout_WrongRiffSize_TrustsFileLength(uint riffSize)
    {
        byte[] file = (s_stereo16 with { RiffSize = riffSize, ChunksAfterData = [WavChunk.Filler("LIST", 10)] }).Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(12, layout.DataLength);
    }

    [Theory]
    [InlineData(SampleFormat.UnsignedPcm8, 1)]
    [InlineData(SampleFormat.SignedPcm, 2)]
    [InlineData(SampleFormat.SignedPcm, 3)]
    [InlineData(SampleFormat.SignedPcm, 4)]
    [InlineData(SampleFormat.IeeeFloat, 4)]
    [InlineData(SampleFormat.IeeeFloat, 8)]
    public void ReadLayout_ExtensibleAndPlain_SameLayout(SampleFormat format, int containerBytes)
    {
        WavBuilder builder = new WavBuilder { Format = format, ContainerBytes = containerBytes, Channels = 7, SampleRate = 44100 }
            .WithNoise(11, seed: 3);

        WavLayout plain = WavReader.ReadLayout(builder.Build(), Key);
        WavLayout extensible = WavReader.ReadLayout((builder with { Extensible = true }).Build(), Key);

        var expected = new WavLayout(format, 7, 44100, containerBytes, 7 * containerBytes, 0, 11L * 7 * containerBytes);
        int plainFmtSize = format == SampleFormat.IeeeFloat ? 18 : 16; // WAVEFORMATEX with cbSize for float
        Assert.Equal(expected with { DataOffset = 12 + 8 + plainFmtSize + 8 }, plain);
        Assert.Equal(expected with { DataOffset = 68 }, extensible);
    }

    [Theory]
    [InlineData(12, 2)]
    [InlineData(20, 3)]
    [InlineData(24, 4)]
    public void ReadLayout_ExtensibleValidBitsBelowContainer_UsesContainer(int validBits, int containerBytes)
    {
        byte[] file = new WavBuilder { ContainerBytes = containerBytes, Extensible = true, ValidBits = validBits }.WithNoise(4, seed: 2).Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(SampleFormat.SignedPcm, layout.Format);
        Assert.Equal(containerBytes, layout.ContainerBytes);
    }

    [Theory]
    [InlineData(5, 1, SampleFormat.UnsignedPcm8)]
    [InlineData(12, 2, SampleFormat.SignedPcm)]
    [InlineData(20, 3, SampleFormat.SignedPcm)]
    public void ReadLayout_PlainBitsNotMultipleOf8_RoundsUpToContainer(int bits, int containerBytes, SampleFormat expected)
    {
        WavBuilder builder = new WavBuilder { Format = expected, ContainerBytes = containerBytes, Channels = 2, BitsPerSample = bits };
        byte[] file = builder.WithNoise(6, seed: 4).Build();

        WavLayout layout = WavReader.ReadLayout(file, Key);

        Assert.Equal(expected, layout.Format);
        Assert.Equal(containerBytes, layout.ContainerBytes);
        Assert.Equal(6, layout.FrameCount);
    }

    [Fact]
    public void ReadLayout_EmptyDataChunk_ZeroFrames()
    {
        WavLayout layout = WavReader.ReadLayout(new WavBuilder().Build(), Key);

        Assert.Equal(0, layout.FrameCount);
        Assert.Equal(44, layout.DataOffset);
    }

    // ---- rejections: not RIFF WAVE ----

    [Fact]
    public void ReadLayout_Empty_RejectsNotWav() => AssertRejected([], "not a WAV file: empty (0 bytes)");

    [Fact]
    public void ReadLayout_ThreeBytes_RejectsNotWav() => AssertRejected("RIF"u8.ToArray(), "not a WAV file: only 3 bytes");

    [Fact]
    public void ReadLayout_NonRiffBytes_RejectsNotWav()
        => AssertRejected("ID3\u0004 some mp3 bytes"u8.ToArray(), "not a WAV file: starts with 'ID3\\x04', not 'RIFF'");

    [Fact]
    public void ReadLayout_RiffNotWave_Rejects()
        => AssertRejected((s_stereo16 with { FormType = "AVI " }).Build(), "RIFF form type 'AVI ' is not 'WAVE'");

    [Fact]
    public void ReadLayout_TruncatedRiffHeader_Rejects()
        => AssertRejected(s_stereo16.Build()[..10], "truncated RIFF header (10 of 12 bytes)");

    [Fact]
    public void ReadLayout_TruncatedChunkHeader_Rejects()
        => AssertRejected(s_stereo16.Build()[..15], "truncated chunk header at offset 12 (3 of 8 bytes)");

    [Fact]
    public void ReadLayout_TrailingBytesAfterLastChunk_RejectsTruncatedChunkHeader()
        => AssertRejected([.. s_stereo16.Build(), 0, 0], "truncated chunk header at offset 56 (2 of 8 bytes)");

    [Fact]
    public void ReadLayout_Rf64WithoutDs64_Rejects()
        => AssertRejected((s_stereo16 with { RiffId = "RF64" }).Build(), "RF64 file without a 'ds64' chunk first (found 'fmt ')");

    [Fact]
    public void ReadLayout_Bw64WithoutDs64_Rejects()
        => AssertRejected((s_stereo16 with { RiffId = "BW64" }).Build(), "RF64 file without a 'ds64' chunk first (found 'fmt ')");

    [Fact]
    public void ReadLayout_Rf64_TakesTheDataSizeFromDs64()
    {
        WavBuilder rf64 = s_stereo16 with { Rf64 = true, ChunksAfterData = [WavChunk.Filler("LIST", 7)] };
        byte[] file = rf64.Build(out int dataOffset);

        WavLayout layout = WavReader.ReadLayout(file, "a.wav");

        Assert.Equal(new WavLayout(SampleFormat.SignedPcm, 2, 8000, 2, 4, dataOffset, rf64.Data.Length), layout);
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(dataOffset - 4)));
    }

    [Fact]
    public void ReadLayout_Bw64_ReadsLikeRf64()
    {
        byte[] file = (s_stereo16 with { Rf64 = true }).Build(out int dataOffset);
        "BW64"u8.CopyTo(file);

        Assert.Equal(dataOffset, WavReader.ReadLayout(file, "a.wav").DataOffset);
    }

    [Fact]
    public void ReadLayout_Rf64Ds64TooShort_Rejects()
    {
        byte[] file = (s_stereo16 with { Rf64 = true }).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16), 20);

        AssertRejected(file, "'ds64' chunk too short: 20 bytes, at least 28 needed");
    }

    [Fact]
    public void ReadLayout_Rf64Ds64DataSizePastTheEnd_Rejects()
    {
        byte[] file = (s_stereo16 with { Rf64 = true }).Build();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(28), 1L << 33);

        InvalidObjectException ex = Assert.Throws<InvalidObjectException>(() => WavReader.ReadLayout(file, "a.wav"));
        Assert.StartsWith("'data' chunk runs past the end of the file: it declares 8589934592 bytes", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLayout_Rf64OtherChunkSizedInDs64WithoutEntry_Rejects()
    {
        byte[] file = (s_stereo16 with { Rf64 = true, ChunksAfterData = [WavChunk.Filler("LIST", 8)] }).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(file.Length - 12), uint.MaxValue);

        AssertRejected(file, "chunk 'LIST' declares its size in 'ds64', which has none for it");
    }

    [Fact]
    public void ReadLayout_Rifx_Rejects() => AssertRejected((s_stereo16 with { RiffId = "RIFX" }).Build(), "big-endian RIFX is not supported");

    // ---- rejections: chunk structure ----

    [Fact]
    public void ReadLayout_MissingFmt_Rejects() => AssertRejected((s_stereo16 with { OmitFmt = true }).Build(), "missing 'fmt ' chunk");

    [Fact]
    public void ReadLayout_MissingData_Rejects()
        => AssertRejected((s_stereo16 with { OmitData = true, ChunksAfterData = [WavChunk.Filler("fact", 4)] }).Build(), "missing 'data' chunk");

    [Fact]
    public void ReadLayout_FmtTooShort_Rejects()
        => AssertRejected((s_stereo16 with { FmtPayload = new byte[14] }).Build(), "'fmt ' chunk too short: 14 bytes, at least 16 needed");

    [Fact]
    public void ReadLayout_ExtensibleFmtTooShort_Rejects()
    {
        byte[] fmt = new WavBuilder { Extensible = true }.Build()[20..38];

        AssertRejected((s_stereo16 with { FmtPayload = fmt }).Build(), "'fmt ' chunk too short for WAVE_FORMAT_EXTENSIBLE: 18 bytes, 40 needed");
    }

    [Fact]
    public void ReadLayout_DataBeyondEndOfFile_Rejects()
        => AssertRejected(
            (s_stereo16 with { DataSize = 400 }).Build(),
            "'data' chunk runs past the end of the file: it declares 400 bytes at offset 44, only 12 are present");

    [Fact]
    public void ReadLayout_FileCutInsideData_Rejects()
        => AssertRejected(
            s_stereo16.Build()[..50],
            "'data' chunk runs past the end of the file: it declares 12 bytes at offset 44, only 6 are present");

    [Fact]
    public void ReadLayout_OtherChunkBeyondEndOfFile_Rejects()
    {
        byte[] file = (s_stereo16 with { ChunksAfterData = [WavChunk.Filler("LIST", 40)] }).Build()[..70];

        AssertRejected(file, "chunk 'LIST' at offset 56 runs past the end of the file: it declares 40 bytes, only 6 are present");
    }

    [Fact]
    public void ReadLayout_DataNotMultipleOfBlockAlign_Rejects()
        => AssertRejected((s_stereo16 with { Data = new byte[10] }).Build(), "data size 10 is not a multiple of block align 4");

    [Fact]
    public void ReadLayout_SecondDataChunk_Rejects()
        => AssertRejected((s_stereo16 with { ChunksAfterData = [new WavChunk("data", new byte[4])] }).Build(), "second 'data' chunk at offset 56");

    [Fact]
    public void ReadLayout_SecondFmtChunk_Rejects()
    {
        byte[] fmt = s_stereo16.Build()[20..36];

        AssertRejected((s_stereo16 with { ChunksAfterData = [new WavChunk("fmt ", fmt)] }).Build(), "second 'fmt ' chunk at offset 56");
    }

    // ---- rejections: format fields ----

    [Fact]
    public void ReadLayout_ZeroChannels_Rejects() => AssertRejected(new WavBuilder { Channels = 0 }.Build(), "zero channels");

    [Fact]
    public void ReadLayout_ZeroSampleRate_Rejects() => AssertRejected(new WavBuilder { SampleRate = 0 }.Build(), "zero sample rate");

    [Fact]
    public void ReadLayout_SampleRateAboveInt32_Rejects()
    {
        byte[] file = new WavBuilder { BlockAlign = 1, ContainerBytes = 1, Format = SampleFormat.UnsignedPcm8, ByteRate = 3_000_000_000 }.Build();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), 3_000_000_000);

        AssertRejected(file, "unsupported sample rate 3000000000 Hz");
    }

    [Fact]
    public void ReadLayout_ZeroBitsPerSample_Rejects() => AssertRejected(new WavBuilder { BitsPerSample = 0 }.Build(), "zero bits per sample");

    [Fact]
    public void ReadLayout_BlockAlignNotChannelsTimesContainer_Rejects()
        => AssertRejected(
            new WavBuilder { Channels = 3, ContainerBytes = 3, BlockAlign = 4 }.Build(),
            "inconsistent block align / byte rate: block align 4 for 3 channels of 24-bit samples, expected 9");

    [Fact]
    public void ReadLayout_ByteRateNotRateTimesBlockAlign_Rejects()
        => AssertRejected(
            new WavBuilder { Channels = 2, ByteRate = 16000 }.Build(),
            "inconsistent block align / byte rate: byte rate 16000, expected 8000 Hz x 4 = 32000");

    [Theory]
    [InlineData(0x0002, "Microsoft ADPCM")]
    [InlineData(0x0006, "A-law")]
    [InlineData(0x0007, "mu-law")]
    [InlineData(0x0011, "IMA ADPCM")]
    [InlineData(0x0055, "MP3")]
    [InlineData(0x0000, "unknown codec")]
    [InlineData(0x1234, "unknown codec")]
    public void ReadLayout_CompressedOrUnknownCodec_RejectsUnsupportedEncoding(int tag, string name)
        => AssertRejected(
            new WavBuilder { FormatTag = (ushort)tag, ContainerBytes = 1 }.Build(),
            $"unsupported encoding: {name} (format tag 0x{tag:X4})");

    [Fact]
    public void ReadLayout_ExtensibleALawSubFormat_RejectsUnsupportedEncoding()
        => AssertRejected(
            new WavBuilder { Extensible = true, ContainerBytes = 1, SubFormat = new Guid("00000006-0000-0010-8000-00aa00389b71") }.Build(),
            "unsupported encoding: A-law (WAVE_FORMAT_EXTENSIBLE sub-format 0x0006)");

    [Fact]
    public void ReadLayout_ExtensibleForeignSubFormat_RejectsUnsupportedEncoding()
        => AssertRejected(
            new WavBuilder { Extensible = true, SubFormat = new Guid("6dba3190-67bd-11cf-a0f7-0020afd156e4") }.Build(),
            "unsupported encoding: WAVE_FORMAT_EXTENSIBLE sub-format 6dba3190-67bd-11cf-a0f7-0020afd156e4");

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void ReadLayout_IntegerContainerOver4Bytes_RejectsSampleSize(int containerBytes)
        => AssertRejected(
            new WavBuilder { Channels = 3, ContainerBytes = containerBytes }.Build(),
            $"unsupported sample size: {8 * containerBytes}-bit integer PCM in {containerBytes}-byte containers; only 1- to 4-byte containers are supported");

    [Fact]
    public void ReadLayout_IntegerExtensible64Bit_RejectsSampleSize()
        => AssertRejected(
            new WavBuilder { Extensible = true, ContainerBytes = 8 }.Build(),
            "unsupported sample size: 64-bit integer PCM in 8-byte containers; only 1- to 4-byte containers are supported");

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadLayout_FloatContainerNot4Or8_RejectsSampleSize(int containerBytes)
        => AssertRejected(
            new WavBuilder { Format = SampleFormat.IeeeFloat, ContainerBytes = containerBytes }.Build(),
            $"unsupported sample size: {8 * containerBytes}-bit IEEE float; only 32- and 64-bit float are supported");

    [Fact]
    public void ReadLayout_Rejection_IsNotTransient()
    {
        InvalidObjectException ex = Assert.Throws<InvalidObjectException>(() => WavReader.ReadLayout([], Key));

        Assert.False(ex.IsTransient);
        Assert.Equal($"{Key}: not a WAV file: empty (0 bytes)", ex.Message);
    }

    private static void AssertRejected(byte[] file, string reason)
    {
        InvalidObjectException ex = Assert.Throws<InvalidObjectException>(() => WavReader.ReadLayout(file, Key));
        Assert.Equal(Key, ex.ObjectKey);
        Assert.Equal(reason, ex.Reason);
    }
}
