using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace PosCuda.Shared.Audio;

/// <summary>Parses the structure of a RIFF WAVE file without touching its samples.</summary>
/// <remarks>
/// <para>
/// Accepted: little-endian <c>RIFF</c>/<c>WAVE</c> with integer PCM (format tag 1) in 1-byte (unsigned, offset 128),
/// 2-, 3- or 4-byte (signed) containers, IEEE float (tag 3) in 4- or 8-byte containers, and
/// <c>WAVE_FORMAT_EXTENSIBLE</c> (0xFFFE) whose sub-format GUID is PCM or IEEE float; any number of channels.
/// The container size is <c>ceil(bitsPerSample / 8)</c> bytes and must equal <c>blockAlign / channels</c>; the
/// sample width B used by the codec is 8 × the container, whatever the bits-per-sample or valid-bits fields say
/// (12 valid bits in 2 bytes is B = 16, 20 bits in 3 bytes is B = 24, 5 bits in 1 byte is unsigned 8-bit).
/// </para>
/// <para>
/// Chunk walk: chunks may come in any order (<c>fmt </c> after <c>data</c> included); odd-sized chunks are followed
/// by a pad byte; unknown chunks (LIST, bext, cue, fact, PEAK, ...) are skipped untouched. The walk runs to the real
/// end of the file: the RIFF size field is ignored, because writers often get it wrong. A chunk whose declared size
/// runs past the end of the file is rejected, with one leniency: the pad byte of an odd-sized last chunk may be
/// missing. Any bytes after the last chunk that do not form a complete 8-byte chunk header are rejected as a
/// truncated chunk header.
/// </para>
/// <para>
/// Rejected, as <see cref="InvalidObjectException"/> with a human reason: empty or non-RIFF bytes
/// ("not a WAV file: ..."); RIFF that is not WAVE; a truncated RIFF or chunk header; a missing, duplicated or too
/// short <c>fmt </c> chunk (16 bytes, 40 for EXTENSIBLE); a missing or duplicated <c>data</c> chunk; a chunk that runs
/// past the end of the file; a data size that is not a multiple of the block align; zero channels, zero sample rate
/// or zero bits per sample; a block align other than channels × container, or a byte rate other than
/// sample rate × block align ("inconsistent block align / byte rate"); compressed or unknown codecs, A-law and mu-law
/// included ("unsupported encoding: ..."); integer containers of 5 bytes or more ("unsupported sample size": float64
/// arithmetic cannot hold 1 LSB beyond 32 bits) and float containers other than 4 or 8 bytes; RF64/BW64
/// ("RF64 is not supported") and big-endian RIFX ("big-endian RIFX is not supported").
/// </para>
/// </remarks>
public static class WavReader
{
    private const int RiffHeaderSize = 12;
    private const int ChunkHeaderSize = 8;
    private const int MinFmtSize = 16;
    private const int ExtensibleFmtSize = 40;
    private const int MaxFmtBytes = 1 << 16;
    private const int Ds64MinSize = 28;
    private const int Ds64EntrySize = 12;
    private const int Ds64MaxBytes = 1 << 16;
    private const ushort TagPcm = 0x0001;
    private const ushort TagIeeeFloat = 0x0003;
    private const ushort TagExtensible = 0xFFFE;

    // Bytes 2..15 of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT (xxxxxxxx-0000-0010-8000-00AA00389B71, as stored).
    private static ReadOnlySpan<byte> SubFormatTail =>
        [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Reads the layout of <paramref name="file"/>.</summary>
    /// <exception cref="InvalidObjectException">The bytes are not a supported, well-formed WAV file.</exception>
    public static WavLayout ReadLayout(ReadOnlySpan<byte> file, string objectKey)
    {
        ArgumentNullException.ThrowIfNull(objectKey);
        var walk = new ChunkWalk(objectKey, file.Length);
        while (walk.Next is { } need)
        {
            walk.Supply(file.Slice((int)need.Offset, need.Length));
        }

        return walk.Layout!;
    }

    /// <summary>Reads the layout of the object <paramref name="reader"/> reads: only its chunk headers, <c>ds64</c> and <c>fmt </c> are read.</summary>
    /// <exception cref="InvalidObjectException">The object is not a supported, well-formed WAV file.</exception>
    public static async ValueTask<WavLayout> ReadLayoutAsync(Storage.ObjectReader reader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var walk = new ChunkWalk(reader.Key, reader.Length);
        byte[] buffer = [];
        while (walk.Next is { } need)
        {
            if (buffer.Length < need.Length)
            {
                buffer = new byte[Math.Max(need.Length, 64)];
            }

            await reader.ReadAsync(need.Offset, buffer.AsMemory(0, need.Length), cancellationToken).ConfigureAwait(false);
            walk.Supply(buffer.AsSpan(0, need.Length));
        }

        return walk.Layout!;
    }

    // The chunk walk as a machine that asks for the bytes it needs next (Next) and is given them (Supply), so that one
    // walk serves a file in memory and an object read by ranges.
    private sealed class ChunkWalk(string objectKey, long fileLength)
    {
        private const uint SizeInDs64 = 0xFFFFFFFF;

        private readonly string _key = objectKey;
        private readonly long _length = fileLength;
        private Step _step = Step.RiffHeader;
        private long _position;
        private long _fmtOffset = -1;
        private long _fmtSize;
        private long _dataOffset = -1;
        private long _dataSize;
        private bool _rf64;
        private long _ds64DataSize = -1;
        private Dictionary<uint, long>? _ds64Table;

        private enum Step
        {
            RiffHeader,
            ChunkHeader,
            Ds64Body,
            FmtBody,
            Done,
        }

        public (long Offset, int Length)? Next => _step switch
        {
            Step.RiffHeader => (0, (int)Math.Min(_length, RiffHeaderSize)),
            Step.ChunkHeader => (_position, (int)Math.Min(_length - _position, ChunkHeaderSize)),
            Step.Ds64Body => (_position, (int)Math.Min(_ds64Size, Ds64MaxBytes)),
            Step.FmtBody => (_fmtOffset, (int)Math.Min(_fmtSize, MaxFmtBytes)),
            _ => null,
        };

        public WavLayout? Layout { get; private set; }

        private long _ds64Size;

        public void Supply(ReadOnlySpan<byte> bytes)
        {
            switch (_step)
            {
                case Step.RiffHeader:
                    _rf64 = CheckRiffHeader(bytes, _length, _key);
                    _position = RiffHeaderSize;
                    Advance();
                    break;
                case Step.ChunkHeader:
                    OnChunkHeader(bytes);
                    break;
                case Step.Ds64Body:
                    OnDs64(bytes);
                    break;
                case Step.FmtBody:
                    Finish(bytes);
                    break;
                default:
                    throw new InvalidOperationException("The walk is done.");
            }
        }

        // Moves on to the next chunk header, or to the end of the walk.
        private void Advance()
        {
            if (_position < _length)
            {
                _step = Step.ChunkHeader;
                return;
            }

            if (_fmtOffset < 0)
            {
                throw Invalid(_key, "missing 'fmt ' chunk");
            }

            if (_dataOffset < 0)
            {
                throw Invalid(_key, "missing 'data' chunk");
            }

            _step = Step.FmtBody;
        }

        private void OnChunkHeader(ReadOnlySpan<byte> header)
        {
            long position = _position;
            long remaining = _length - position;
            if (remaining < ChunkHeaderSize)
            {
                throw Invalid(_key, $"truncated chunk header at offset {position} ({remaining} of {ChunkHeaderSize} bytes)");
            }

            ReadOnlySpan<byte> id = header[..4];
            uint size32 = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            long size = size32;
            long body = position + ChunkHeaderSize;
            bool isData = id.SequenceEqual("data"u8);
            bool isDs64 = id.SequenceEqual("ds64"u8);
            if (_rf64 && position == RiffHeaderSize && !isDs64)
            {
                throw Invalid(_key, $"RF64 file without a 'ds64' chunk first (found '{FormatId(id)}')");
            }

            if (_rf64 && size32 == SizeInDs64 && !isDs64)
            {
                size = isData ? _ds64DataSize : LookUpDs64(id);
            }

            if (size > _length - body)
            {
                throw Invalid(_key, isData
                    ? $"'data' chunk runs past the end of the file: it declares {size} bytes at offset {body}, only {_length - body} are present"
                    : $"chunk '{FormatId(id)}' at offset {position} runs past the end of the file: it declares {size} bytes, only {_length - body} are present");
            }

            if (isData)
            {
                if (_dataOffset >= 0)
                {
                    throw Invalid(_key, $"second 'data' chunk at offset {position}");
                }

                _dataOffset = body;
                _dataSize = size;
            }
            else if (id.SequenceEqual("fmt "u8))
            {
                if (_fmtOffset >= 0)
                {
                    throw Invalid(_key, $"second 'fmt ' chunk at offset {position}");
                }

                _fmtOffset = body;
                _fmtSize = size;
            }
            else if (isDs64 && _rf64 && position == RiffHeaderSize)
            {
                if (size < Ds64MinSize)
                {
                    throw Invalid(_key, $"'ds64' chunk too short: {size} bytes, at least {Ds64MinSize} needed");
                }

                _position = body;
                _ds64Size = size;
                _step = Step.Ds64Body;
                return;
            }

            // An odd-sized last chunk whose pad byte is missing ends the walk (Advance sees the end).
            _position = body + size + (size & 1);
            Advance();
        }

        // ds64: RIFF size, data size and sample count (64-bit each), then a table of (chunk id, 64-bit size).
        private void OnDs64(ReadOnlySpan<byte> ds64)
        {
            ulong dataSize = BinaryPrimitives.ReadUInt64LittleEndian(ds64[8..]);
            if (dataSize > long.MaxValue)
            {
                throw Invalid(_key, $"'ds64' data size {dataSize} is out of range");
            }

            _ds64DataSize = (long)dataSize;
            uint entries = BinaryPrimitives.ReadUInt32LittleEndian(ds64[24..]);
            if ((long)entries * Ds64EntrySize > ds64.Length - Ds64MinSize)
            {
                throw Invalid(_key, $"'ds64' table of {entries} entries does not fit its {_ds64Size}-byte chunk");
            }

            for (int i = 0; i < entries; i++)
            {
                ReadOnlySpan<byte> entry = ds64.Slice(Ds64MinSize + (i * Ds64EntrySize), Ds64EntrySize);
                _ds64Table ??= [];
                _ds64Table[BinaryPrimitives.ReadUInt32LittleEndian(entry)] = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(entry[4..]), long.MaxValue);
            }

            _position += _ds64Size + (_ds64Size & 1);
            Advance();
        }

        private long LookUpDs64(ReadOnlySpan<byte> id)
        {
            if (_ds64Table is not null && _ds64Table.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(id), out long size))
            {
                return size;
            }

            throw Invalid(_key, $"chunk '{FormatId(id)}' declares its size in 'ds64', which has none for it");
        }

        private void Finish(ReadOnlySpan<byte> fmt)
        {
            (SampleFormat format, int channels, int sampleRate, int containerBytes, int blockAlign) = ParseFormat(fmt, _key);
            if (_dataSize % blockAlign != 0)
            {
                throw Invalid(_key, $"data size {_dataSize} is not a multiple of block align {blockAlign}");
            }

            Layout = new WavLayout(format, channels, sampleRate, containerBytes, blockAlign, _dataOffset, _dataSize);
            _step = Step.Done;
        }
    }

    // Whether the header is RF64 (or BW64); rejects what is not a little-endian RIFF or RF64 WAVE header.
    private static bool CheckRiffHeader(ReadOnlySpan<byte> file, long fileLength, string objectKey)
    {
        if (fileLength == 0)
        {
            throw Invalid(objectKey, "not a WAV file: empty (0 bytes)");
        }

        if (fileLength < 4)
        {
            throw Invalid(objectKey, $"not a WAV file: only {fileLength} bytes");
        }

        ReadOnlySpan<byte> id = file[..4];
        bool rf64 = id.SequenceEqual("RF64"u8) || id.SequenceEqual("BW64"u8);
        if (id.SequenceEqual("RIFX"u8))
        {
            throw Invalid(objectKey, "big-endian RIFX is not supported");
        }

        if (!rf64 && !id.SequenceEqual("RIFF"u8))
        {
            throw Invalid(objectKey, $"not a WAV file: starts with '{FormatId(id)}', not 'RIFF'");
        }

        if (fileLength < RiffHeaderSize)
        {
            throw Invalid(objectKey, $"truncated RIFF header ({fileLength} of {RiffHeaderSize} bytes)");
        }

        ReadOnlySpan<byte> form = file.Slice(8, 4);
        if (!form.SequenceEqual("WAVE"u8))
        {
            throw Invalid(objectKey, $"{(rf64 ? FormatId(id) : "RIFF")} form type '{FormatId(form)}' is not 'WAVE'");
        }

        return rf64;
    }

    private static (SampleFormat Format, int Channels, int SampleRate, int ContainerBytes, int BlockAlign) ParseFormat(
        ReadOnlySpan<byte> fmt, string objectKey)
    {
        if (fmt.Length < MinFmtSize)
        {
            throw Invalid(objectKey, $"'fmt ' chunk too short: {fmt.Length} bytes, at least {MinFmtSize} needed");
        }

        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        uint sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        uint byteRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[8..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bitsPerSample = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);

        ushort codec = tag;
        if (tag == TagExtensible)
        {
            if (fmt.Length < ExtensibleFmtSize)
            {
                throw Invalid(objectKey, $"'fmt ' chunk too short for WAVE_FORMAT_EXTENSIBLE: {fmt.Length} bytes, {ExtensibleFmtSize} needed");
            }

            ReadOnlySpan<byte> subFormat = fmt.Slice(24, 16);
            if (!subFormat[2..].SequenceEqual(SubFormatTail))
            {
                throw Invalid(objectKey, $"unsupported encoding: WAVE_FORMAT_EXTENSIBLE sub-format {new Guid(subFormat)}");
            }

            codec = BinaryPrimitives.ReadUInt16LittleEndian(subFormat);
        }

        if (codec != TagPcm && codec != TagIeeeFloat)
        {
            string where = tag == TagExtensible ? "WAVE_FORMAT_EXTENSIBLE sub-format" : "format tag";
            throw Invalid(objectKey, $"unsupported encoding: {CodecName(codec)} ({where} 0x{codec:X4})");
        }

        if (channels == 0)
        {
            throw Invalid(objectKey, "zero channels");
        }

        if (sampleRate == 0)
        {
            throw Invalid(objectKey, "zero sample rate");
        }

        if (sampleRate > int.MaxValue)
        {
            throw Invalid(objectKey, $"unsupported sample rate {sampleRate} Hz");
        }

        if (bitsPerSample == 0)
        {
            throw Invalid(objectKey, "zero bits per sample");
        }

        int containerBytes = (bitsPerSample + 7) / 8;
        if (blockAlign != channels * containerBytes)
        {
            throw Invalid(objectKey,
                $"inconsistent block align / byte rate: block align {blockAlign} for {channels} channels of {bitsPerSample}-bit samples, expected {channels * containerBytes}");
        }

        if (byteRate != (ulong)sampleRate * (ulong)blockAlign)
        {
            throw Invalid(objectKey,
                $"inconsistent block align / byte rate: byte rate {byteRate}, expected {sampleRate} Hz x {blockAlign} = {(ulong)sampleRate * (ulong)blockAlign}");
        }

        SampleFormat format;
        if (codec == TagIeeeFloat)
        {
            if (containerBytes != 4 && containerBytes != 8)
            {
                throw Invalid(objectKey, $"unsupported sample size: {bitsPerSample}-bit IEEE float; only 32- and 64-bit float are supported");
            }

            format = SampleFormat.IeeeFloat;
        }
        else
        {
            if (containerBytes > 4)
            {
                throw Invalid(objectKey,
                    $"unsupported sample size: {bitsPerSample}-bit integer PCM in {containerBytes}-byte containers; only 1- to 4-byte containers are supported");
            }

            format = containerBytes == 1 ? SampleFormat.UnsignedPcm8 : SampleFormat.SignedPcm;
        }

        return (format, channels, (int)sampleRate, containerBytes, blockAlign);
    }

    private static string CodecName(ushort codec) => codec switch
    {
        0x0000 => "unknown codec",
        0x0002 => "Microsoft ADPCM",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x0161 or 0x0162 or 0x0163 => "Windows Media Audio",
        0x1610 => "AAC",
        0xF1AC => "FLAC",
        _ => "unknown codec",
    };

    private static string FormatId(ReadOnlySpan<byte> id)
    {
        var builder = new StringBuilder(id.Length * 4);
        foreach (byte b in id)
        {
            if (b is >= 0x20 and < 0x7F)
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
            }
        }

        return builder.ToString();
    }

    private static InvalidObjectException Invalid(string objectKey, string reason) => new(objectKey, reason);
}
