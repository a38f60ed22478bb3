using System.Buffers.Binary;

namespace PosCuda.Benchmarks;

/// <summary>Builds a canonical WAV clip of a sine-like signal for the benchmarks.</summary>
internal static class BenchWav
{
    /// <summary>Builds a clip: format tag 1 (PCM) or 3 (IEEE float), 8000 Hz.</summary>
    public static byte[] Build(ushort formatTag, int channels, int bytesPerSample, int frames)
    {
        int blockAlign = channels * bytesPerSample;
        int dataLength = frames * blockAlign;
        byte[] file = new byte[44 + dataLength];
        Span<byte> s = file;
        "RIFF"u8.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], 36 + dataLength);
        "WAVEfmt "u8.CopyTo(s[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(s[20..], formatTag);
        BinaryPrimitives.WriteUInt16LittleEndian(s[22..], (ushort)channels);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], 8000);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], 8000 * blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(s[32..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(s[34..], (ushort)(8 * bytesPerSample));
        "data"u8.CopyTo(s[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], dataLength);

        for (int n = 0; n < frames; n++)
        {
            for (int ch = 0; ch < channels; ch++)
            {
                double value = 0.5 * Math.Sin(2 * Math.PI * (440 + (110 * ch)) * n / 8000.0);
                Span<byte> sample = s.Slice(44 + (n * blockAlign) + (ch * bytesPerSample), bytesPerSample);
                switch (formatTag, bytesPerSample)
                {
                    case (3, 4):
                        BinaryPrimitives.WriteSingleLittleEndian(sample, (float)value);
                        break;
                    case (1, 1):
                        sample[0] = (byte)(128 + (int)Math.Round(value * 127));
                        break;
                    case (1, _):
                        long q = (long)Math.Round(value * ((1L << ((8 * bytesPerSample) - 1)) - 1));
                        for (int b = 0; b < bytesPerSample; b++)
                        {
                            sample[b] = (byte)(q >> (8 * b));
                        }

                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(formatTag));
                }
            }
        }

        return file;
    }
}
