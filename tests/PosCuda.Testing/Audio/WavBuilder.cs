using System.Buffers.Binary;
using System.Text;
using PosCuda.Shared.Audio;

namespace PosCuda.Testing.Audio;

/// <summary>Builds synthetic RIFF WAVE files, well-formed or deliberately broken, for tests.</summary>
/// <remarks>
/// <para>
/// An immutable description: set what you need with an object initialiser or <c>with</c>, then call
/// <see cref="Build()"/>. The defaults give a valid mono 16-bit 8 kHz file with no samples.
/// </para>
/// <code>
/// WavBuilder stereo24 = new WavBuilder { Channels = 2, ContainerBytes = 3 }
///     .WithSamples([0.5, -0.5, 0.25, -0.25]);                      // 2 frames, interleaved
/// byte[] wav = (stereo24 with { ChunksBeforeData = [WavChunk.Filler("LIST", 13)] }).Build(); // odd chunk + pad
/// </code>
/// <para>
/// Chunk order: the RIFF header, <c>fmt </c> (unless <see cref="FmtAfterData"/>), <see cref="ChunksBeforeData"/>,
/// <c>data</c>, <c>fmt </c> (if <see cref="FmtAfterData"/>), <see cref="ChunksAfterData"/>. Every odd-sized chunk is
/// followed by a zero pad byte, except the last one when <see cref="OmitFinalPad"/> is set. The nullable override
/// properties write wrong header fields on purpose (for rejection tests); left null, every field is consistent.
/// </para>
/// <para>
/// The sample encoder here (<see cref="EncodeSamples"/>) is written independently of <see cref="SampleCodec"/>,
/// so tests can use it as an oracle.
/// </para>
/// </remarks>
public sealed record WavBuilder
{
    private static readonly Guid s_pcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    private static readonly Guid s_floatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    /// <summary>The sample encoding; also picks the format tag (1 for integer PCM, 3 for float) and sub-format.</summary>
    public SampleFormat Format { get; init; } = SampleFormat.SignedPcm;

    /// <summary>Interleaved channels per frame.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Bytes per sample: 1 for <see cref="SampleFormat.UnsignedPcm8"/>, 2-4 for PCM, 4 or 8 for float.</summary>
    public int ContainerBytes { get; init; } = 2;

    /// <summary>Frames per second.</summary>
    public int SampleRate { get; init; } = 8000;

    /// <summary>Whether to write a 40-byte WAVE_FORMAT_EXTENSIBLE <c>fmt </c> chunk with a sub-format GUID.</summary>
    public bool Extensible { get; init; }

    /// <summary>The raw interleaved sample bytes of the <c>data</c> chunk.</summary>
    public byte[] Data { get; init; } = [];

    /// <summary>Chunks written after <c>fmt </c> and before <c>data</c>.</summary>
    public IReadOnlyList<WavChunk> ChunksBeforeData { get; init; } = [];

    /// <summary>Chunks written after <c>data</c> (and after <c>fmt </c> when it follows the data).</summary>
    public IReadOnlyList<WavChunk> ChunksAfterData { get; init; } = [];

    /// <summary>Whether the <c>fmt </c> chunk comes right after the <c>data</c> chunk instead of first.</summary>
    public bool FmtAfterData { get; init; }

    /// <summary>Whether to leave the <c>fmt </c> chunk out.</summary>
    public bool OmitFmt { get; init; }

    /// <summary>Whether to leave the <c>data</c> chunk out.</summary>
    public bool OmitData { get; init; }

    /// <summary>Whether to drop the pad byte of the last chunk when its size is odd.</summary>
    public bool OmitFinalPad { get; init; }

    /// <summary>The first four bytes of the file.</summary>
    public string RiffId { get; init; } = "RIFF";

    /// <summary>The RIFF form type.</summary>
    public string FormType { get; init; } = "WAVE";

    /// <summary>Builds an RF64 file: header <c>RF64</c> with size 0xFFFFFFFF, a <c>ds64</c> chunk first holding the real
    /// RIFF and data sizes, and a <c>data</c> chunk whose size field says 0xFFFFFFFF.</summary>
    public bool Rf64 { get; init; }

    /// <summary>Overrides the RIFF size field (default: file length - 8).</summary>
    public uint? RiffSize { get; init; }

    /// <summary>Overrides the declared size of the <c>data</c> chunk (the bytes written stay <see cref="Data"/>).</summary>
    public uint? DataSize { get; init; }

    /// <summary>Overrides the format tag (default: 1, 3, or 0xFFFE when <see cref="Extensible"/>).</summary>
    public ushort? FormatTag { get; init; }

    /// <summary>Overrides the bits-per-sample field (default: 8 × <see cref="ContainerBytes"/>).</summary>
    public int? BitsPerSample { get; init; }

    /// <summary>Overrides the EXTENSIBLE valid-bits field (default: the bits-per-sample field).</summary>
    public int? ValidBits { get; init; }

    /// <summary>Overrides the block-align field (default: channels × container).</summary>
    public int? BlockAlign { get; init; }

    /// <summary>Overrides the byte-rate field (default: sample rate × block align).</summary>
    public uint? ByteRate { get; init; }

    /// <summary>Overrides the EXTENSIBLE sub-format GUID (default: PCM or IEEE float from <see cref="Format"/>).</summary>
    public Guid? SubFormat { get; init; }

    /// <summary>Replaces the whole <c>fmt </c> payload with these bytes (every fmt field above is then ignored).</summary>
    public byte[]? FmtPayload { get; init; }

    /// <summary>Returns a copy whose <see cref="Data"/> holds <paramref name="interleaved"/> encoded per the spec.</summary>
    public WavBuilder WithSamples(ReadOnlySpan<double> interleaved)
        => this with { Data = EncodeSamples(Format, ContainerBytes, interleaved) };

    /// <summary>Returns a copy with <paramref name="frames"/> frames of seeded noise (finite values in [-1.5, 1.5] for float).</summary>
    public WavBuilder WithNoise(int frames, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        var random = new Random(seed);
        if (Format == SampleFormat.IeeeFloat)
        {
            double[] values = new double[frames * Channels];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (random.NextDouble() * 3.0) - 1.5;
            }

            return WithSamples(values);
        }

        byte[] data = new byte[frames * Channels * ContainerBytes];
        random.NextBytes(data);
        return this with { Data = data };
    }

    /// <summary>Builds the file.</summary>
    public byte[] Build() => Build(out _);

    /// <summary>Builds the file and reports where the <c>data</c> payload starts (-1 when it is omitted).</summary>
    public byte[] Build(out int dataOffset)
    {
        var chunks = new List<(string Id, byte[] Payload, uint Size)>();
        byte[] fmtPayload = FmtPayload ?? BuildFmtPayload();
        (string, byte[], uint) fmt = ("fmt ", fmtPayload, (uint)fmtPayload.Length);
        if (!OmitFmt && !FmtAfterData)
        {
            chunks.Add(fmt);
        }

        foreach (WavChunk chunk in ChunksBeforeData)
        {
            chunks.Add((chunk.Id, chunk.Payload, (uint)chunk.Payload.Length));
        }

        if (Rf64)
        {
            chunks.Insert(0, ("ds64", new byte[28], 28));
        }

        int dataIndex = -1;
        if (!OmitData)
        {
            dataIndex = chunks.Count;
            chunks.Add(("data", Data, DataSize ?? (Rf64 ? uint.MaxValue : (uint)Data.Length)));
        }

        if (!OmitFmt && FmtAfterData)
        {
            chunks.Add(fmt);
        }

        foreach (WavChunk chunk in ChunksAfterData)
        {
            chunks.Add((chunk.Id, chunk.Payload, (uint)chunk.Payload.Length));
        }

        using var stream = new MemoryStream();
        stream.Write(FourCc(Rf64 ? "RF64" : RiffId));
        stream.Write(new byte[4]);
        stream.Write(FourCc(FormType));
        dataOffset = -1;
        Span<byte> sizeBytes = stackalloc byte[4];
        for (int i = 0; i < chunks.Count; i++)
        {
            (string id, byte[] payload, uint size) = chunks[i];
            stream.Write(FourCc(id));
            BinaryPrimitives.WriteUInt32LittleEndian(sizeBytes, size);
            stream.Write(sizeBytes);
            if (i == dataIndex)
            {
                dataOffset = (int)stream.Position;
            }

            stream.Write(payload);
            bool isLast = i == chunks.Count - 1;
            if (payload.Length % 2 == 1 && !(isLast && OmitFinalPad))
            {
                stream.WriteByte(0);
            }
        }

        byte[] file = stream.ToArray();
        if (Rf64)
        {
            // ds64 is the first chunk: its payload starts at byte 20.
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), RiffSize ?? uint.MaxValue);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(20), (ulong)file.Length - 8);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(28), (ulong)Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(36), (ulong)(Data.Length / Math.Max(1, Channels * ContainerBytes)));
            return file;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), RiffSize ?? (uint)(file.Length - 8));
        return file;
    }

    /// <summary>Encodes interleaved samples: integer <c>round-half-away-from-zero(y × 2^(B-1))</c> clamped, 8-bit offset by 128, float as is.</summary>
    /// <remarks>
    /// A NaN encodes as silence in integer formats. Integer containers of 5-8 bytes are accepted (for rejection
    /// tests) with float64 precision only.
    /// </remarks>
    public static byte[] EncodeSamples(SampleFormat format, int containerBytes, ReadOnlySpan<double> interleaved)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(containerBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(containerBytes, 8);
        byte[] data = new byte[interleaved.Length * containerBytes];
        for (int i = 0; i < interleaved.Length; i++)
        {
            Span<byte> sample = data.AsSpan(i * containerBytes, containerBytes);
            double y = interleaved[i];
            if (double.IsNaN(y) && format != SampleFormat.IeeeFloat)
            {
                y = 0.0;
            }

            switch (format)
            {
                case SampleFormat.IeeeFloat when containerBytes == 4:
                    BinaryPrimitives.WriteSingleLittleEndian(sample, (float)y);
                    break;
                case SampleFormat.IeeeFloat when containerBytes == 8:
                    BinaryPrimitives.WriteDoubleLittleEndian(sample, y);
                    break;
                case SampleFormat.UnsignedPcm8:
                    sample[0] = (byte)Math.Clamp(Math.Round(y * 128.0, MidpointRounding.AwayFromZero) + 128.0, 0.0, 255.0);
                    break;
                case SampleFormat.SignedPcm:
                    double full = Math.ScaleB(1.0, (8 * containerBytes) - 1);
                    double q = Math.Clamp(Math.Round(y * full, MidpointRounding.AwayFromZero), -full, full - 1);
                    long value = (long)q;
                    for (int b = 0; b < containerBytes; b++)
                    {
                        sample[b] = (byte)(value >> (8 * b));
                    }

                    break;
                default:
                    throw new ArgumentException($"Cannot encode {format} in {containerBytes}-byte containers.", nameof(format));
            }
        }

        return data;
    }

    private byte[] BuildFmtPayload()
    {
        int bits = BitsPerSample ?? 8 * ContainerBytes;
        int blockAlign = BlockAlign ?? Channels * ContainerBytes;
        uint byteRate = ByteRate ?? (uint)(SampleRate * blockAlign);
        ushort plainTag = Format == SampleFormat.IeeeFloat ? (ushort)3 : (ushort)1;
        ushort tag = FormatTag ?? (Extensible ? (ushort)0xFFFE : plainTag);

        // PCM writes the classic 16-byte WAVEFORMAT; other plain tags a WAVEFORMATEX with cbSize 0; EXTENSIBLE 40 bytes.
        int size = Extensible ? 40 : tag == 1 ? 16 : 18;
        byte[] fmt = new byte[size];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), (ushort)Channels);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), (uint)SampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(8), byteRate);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), (ushort)bits);
        if (Extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), (ushort)(ValidBits ?? bits));
            BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(20), 0);
            Guid subFormat = SubFormat ?? (Format == SampleFormat.IeeeFloat ? s_floatSubFormat : s_pcmSubFormat);
            subFormat.TryWriteBytes(fmt.AsSpan(24));
        }

        return fmt;
    }

    private static byte[] FourCc(string id)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(id);
        if (bytes.Length != 4)
        {
            throw new ArgumentException($"A chunk id must be four ASCII characters, got '{id}'.", nameof(id));
        }

        return bytes;
    }
}
