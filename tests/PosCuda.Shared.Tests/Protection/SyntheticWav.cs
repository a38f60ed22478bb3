using System.Buffers.Binary;
using System.Text;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>Builds the deterministic WAV inputs of the spec vectors (integer arithmetic only, so any platform agrees).</summary>
/// <remarks>A local helper on purpose: the vectors must not move when the shared test WAV builder changes.</remarks>
internal static class SyntheticWav
{
    /// <summary>The vector input files, by name.</summary>
    public static readonly string[] Names = ["mono16.wav", "stereo24.wav", "float32.wav", "pcm8.wav", "short16.wav", "long16.wav"];

    /// <summary>Builds the vector input called <paramref name="name"/>.</summary>
    public static byte[] Build(string name) => name switch
    {
        // 8000 Hz, 6000 frames, canonical 44-byte header.
        "mono16.wav" => Pcm(formatTag: 1, channels: 1, sampleRate: 8000, bytesPerSample: 2, frames: 6000, extensible: false,
            sample: (n, _) => Signal16(n, 0), trailer: null),

        // WAVE_FORMAT_EXTENSIBLE, 24-bit stereo, 44100 Hz, with an odd-sized LIST chunk after the data.
        "stereo24.wav" => Pcm(formatTag: 1, channels: 2, sampleRate: 44100, bytesPerSample: 3, frames: 6000, extensible: true,
            sample: (n, ch) => (Signal16(n, ch) * 256) + (int)(Noise(n, ch + 7) & 0xff), trailer: ListChunk("poscuda vector")),

        // IEEE float32 mono, 16000 Hz, with a fact chunk; a few samples beyond full scale.
        "float32.wav" => Float32(frames: 5000),

        // 8-bit unsigned mono, 8000 Hz.
        "pcm8.wav" => Pcm(formatTag: 1, channels: 1, sampleRate: 8000, bytesPerSample: 1, frames: 3000, extensible: false,
            sample: (n, _) => Signal16(n, 0) >> 8, trailer: null),

        // Shorter than the patch: the whole clip is patched.
        "short16.wav" => Pcm(formatTag: 1, channels: 1, sampleRate: 8000, bytesPerSample: 2, frames: 100, extensible: false,
            sample: (n, _) => Signal16(n + 1000, 0), trailer: null),

        // Longer than one convolution chunk, for whole-clip mode.
        "long16.wav" => Pcm(formatTag: 1, channels: 1, sampleRate: 8000, bytesPerSample: 2, frames: 40000, extensible: false,
            sample: (n, _) => Signal16(n, 1), trailer: null),

        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>A 16-bit signal: two triangle waves and some noise, reaching close to full scale.</summary>
    private static int Signal16(long n, int channel)
    {
        int a = Triangle(n, 40 + (7 * channel), 20000);
        int b = Triangle(n, 157 + (11 * channel), 9000);
        int noise = (int)(Noise(n, channel) >> 20) - 2048;
        return Math.Clamp(a + b + noise, -32768, 32767);
    }

    /// <summary>A triangle wave of <paramref name="period"/> samples between about -amplitude and +amplitude.</summary>
    private static int Triangle(long n, int period, int amplitude)
    {
        long t = n % period;
        long half = period / 2;
        long ramp = t < half ? t : period - t;
        return (int)((((2 * ramp) - half) * amplitude) / half);
    }

    /// <summary>A 32-bit hash of (n, stream) from an LCG step and an xorshift; deterministic everywhere.</summary>
    private static uint Noise(long n, int stream)
    {
        uint state = unchecked((uint)n * 1664525u + 1013904223u + ((uint)stream * 2654435761u));
        state ^= state >> 13;
        state = unchecked(state * 1274126177u);
        state ^= state >> 16;
        return state;
    }

    private static byte[] Pcm(
        ushort formatTag, int channels, int sampleRate, int bytesPerSample, int frames, bool extensible,
        Func<long, int, int> sample, byte[]? trailer)
    {
        int blockAlign = channels * bytesPerSample;
        byte[] data = new byte[frames * blockAlign];
        for (int n = 0; n < frames; n++)
        {
            for (int ch = 0; ch < channels; ch++)
            {
                int value = sample(n, ch);
                int offset = (n * blockAlign) + (ch * bytesPerSample);
                switch (bytesPerSample)
                {
                    case 1:
                        data[offset] = (byte)(value + 128);
                        break;
                    case 2:
                        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(offset), (short)value);
                        break;
                    case 3:
                        data[offset] = (byte)value;
                        data[offset + 1] = (byte)(value >> 8);
                        data[offset + 2] = (byte)(value >> 16);
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(bytesPerSample));
                }
            }
        }

        return Riff(Fmt(formatTag, channels, sampleRate, bytesPerSample, extensible), null, data, trailer);
    }

    private static byte[] Float32(int frames)
    {
        byte[] data = new byte[frames * 4];
        for (int n = 0; n < frames; n++)
        {
            // Correctly rounded float32 division: the same bits on every IEEE 754 machine.
            float value = Signal16(n, 2) / 30000f;
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(n * 4), value);
        }

        byte[] fact = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(fact, frames);
        return Riff(Fmt(3, 1, 16000, 4, extensible: false), Chunk("fact", fact), data, null);
    }

    private static byte[] Fmt(ushort formatTag, int channels, int sampleRate, int bytesPerSample, bool extensible)
    {
        int blockAlign = channels * bytesPerSample;
        byte[] fmt = new byte[extensible ? 40 : 16];
        Span<byte> s = fmt;
        BinaryPrimitives.WriteUInt16LittleEndian(s, extensible ? (ushort)0xFFFE : formatTag);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], (ushort)channels);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], sampleRate * blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(s[12..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(s[14..], (ushort)(8 * bytesPerSample));
        if (extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 22);
            BinaryPrimitives.WriteUInt16LittleEndian(s[18..], (ushort)(8 * bytesPerSample));
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], channels == 2 ? 3u : 4u);

            // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {0000000X-0000-0010-8000-00aa00389b71}.
            BinaryPrimitives.WriteUInt16LittleEndian(s[24..], formatTag);
            byte[] guidTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
            guidTail.CopyTo(s[26..]);
        }

        return Chunk("fmt ", fmt);
    }

    private static byte[] ListChunk(string comment)
    {
        // An odd-sized chunk, so the RIFF pad byte after it is exercised.
        byte[] text = Encoding.ASCII.GetBytes(comment + "\0");
        byte[] body = new byte[4 + 8 + text.Length];
        Encoding.ASCII.GetBytes("INFOICMT").CopyTo(body, 0);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), text.Length);
        text.CopyTo(body, 12);
        return Chunk("LIST", body);
    }

    private static byte[] Chunk(string id, byte[] body)
    {
        byte[] chunk = new byte[8 + body.Length + (body.Length & 1)];
        Encoding.ASCII.GetBytes(id).CopyTo(chunk, 0);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), body.Length);
        body.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Riff(byte[] fmt, byte[]? beforeData, byte[] data, byte[]? trailer)
    {
        using var riff = new MemoryStream();
        riff.Write("RIFF"u8);
        riff.Write(new byte[4]);
        riff.Write("WAVE"u8);
        riff.Write(fmt);
        if (beforeData is not null)
        {
            riff.Write(beforeData);
        }

        riff.Write(Chunk("data", data));
        if (trailer is not null)
        {
            riff.Write(trailer);
        }

        byte[] bytes = riff.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }
}
