using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Analysis;

/// <summary>The samples of one WAV clip decoded to float64 per channel, for analysis (never written back).</summary>
/// <param name="SampleRate">Frames per second.</param>
/// <param name="Channels">One array of samples per channel, decoded as <c>poscuda-v1</c> decodes them.</param>
/// <param name="PositiveFullScale">The largest value an encoded sample can take: <c>(2^(B-1)-1)/2^(B-1)</c> for
/// integer PCM, <c>127/128</c> for 8-bit, 1 for float.</param>
public sealed record DecodedClip(int SampleRate, double[][] Channels, double PositiveFullScale)
{
    /// <summary>The number of frames.</summary>
    public int FrameCount => Channels.Length == 0 ? 0 : Channels[0].Length;

    /// <summary>Decodes every sample of a WAV file.</summary>
    /// <exception cref="InvalidObjectException">The bytes are not a supported WAV file, or it is too long to analyse.</exception>
    public static DecodedClip Decode(ReadOnlySpan<byte> wav, string objectKey)
    {
        WavLayout layout = WavReader.ReadLayout(wav, objectKey);
        if (layout.FrameCount > int.MaxValue / 2)
        {
            throw new InvalidObjectException(objectKey, $"too long to analyse ({layout.FrameCount} frames)");
        }

        int frames = (int)layout.FrameCount;
        var channels = new double[layout.Channels][];
        for (int c = 0; c < channels.Length; c++)
        {
            channels[c] = new double[frames];
            SampleCodec.Decode(wav, layout, c, 0, channels[c]);
        }

        double fullScale = layout.Format switch
        {
            SampleFormat.IeeeFloat => 1.0,
            SampleFormat.UnsignedPcm8 => 127.0 / 128.0,
            _ => (Math.Pow(2, (8 * layout.ContainerBytes) - 1) - 1) / Math.Pow(2, (8 * layout.ContainerBytes) - 1),
        };
        return new DecodedClip(layout.SampleRate, channels, fullScale);
    }

    /// <summary>The mean of the channels (the channel itself for mono).</summary>
    public double[] Mono()
    {
        if (Channels.Length == 1)
        {
            return Channels[0];
        }

        var mono = new double[FrameCount];
        foreach (double[] channel in Channels)
        {
            for (int i = 0; i < mono.Length; i++)
            {
                mono[i] += channel[i];
            }
        }

        for (int i = 0; i < mono.Length; i++)
        {
            mono[i] /= Channels.Length;
        }

        return mono;
    }

    /// <summary>Whether <paramref name="value"/> is at or beyond full scale in this clip's encoding.</summary>
    public bool IsFullScale(double value) => value >= PositiveFullScale || value <= -1.0 || double.IsNaN(value);
}
