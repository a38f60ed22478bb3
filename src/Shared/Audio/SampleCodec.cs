using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PosCuda.Shared.Audio;

/// <summary>Decodes and encodes runs of one channel's samples in place, per <c>poscuda-v1</c>.</summary>
/// <remarks>
/// <para>
/// Decoding (spec section 1): signed integer PCM of B = 8 × container bits is <c>s / 2^(B-1)</c>, 8-bit unsigned is
/// <c>(s - 128) / 128</c>, IEEE float is taken as is (float32 widened to float64). Encoding inverts it:
/// <c>q = round-half-away-from-zero(y × 2^(B-1))</c> clamped to <c>[-2^(B-1), 2^(B-1) - 1]</c>,
/// 8-bit <c>round(y × 128) + 128</c> clamped to <c>[0, 255]</c>, float stored as <c>(float)y</c> or <c>y</c> without
/// clamping. Every integer clamp is counted; a float sample with <c>|y| &gt; 1</c> is counted as clipped but stored as
/// is. A NaN encodes as 0 in integer formats (counted as clipped) and as NaN in float formats.
/// </para>
/// <para>
/// Decoding a sample and encoding the decoded value gives back the same bytes for every integer sample and every
/// non-NaN float sample (NaN payloads of float32 are not preserved through float64, which does not matter because
/// any NaN in the convolution's reach turns the whole output NaN anyway).
/// </para>
/// <para>
/// Only the bytes of <c>channel</c>'s samples in the frame range are read or written; headers, other chunks, other
/// channels and other frames are never touched, which the byte-exact invariant relies on.
/// </para>
/// </remarks>
public static class SampleCodec
{
    private const double Scale16 = 32768.0;
    private const double Scale24 = 8388608.0;
    private const double Scale32 = 2147483648.0;

    /// <summary>
    /// Decodes frames <c>[firstFrame, firstFrame + destination.Length)</c> of <paramref name="channel"/> to float64;
    /// frames outside <c>[0, N)</c> decode as 0.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> file, WavLayout layout, int channel, long firstFrame, Span<double> destination)
    {
        CheckArguments(file.Length, layout, channel);
        Decode(file.Slice((int)layout.DataOffset, (int)layout.DataLength), 0, layout, channel, firstFrame, destination);
    }

    /// <summary>
    /// Decodes frames <c>[firstFrame, firstFrame + destination.Length)</c> of <paramref name="channel"/> from a window of
    /// the data chunk: <paramref name="window"/> holds the bytes of the frames from <paramref name="windowFirstFrame"/> on.
    /// Frames outside <c>[0, N)</c> decode as 0; frames inside it must be in the window.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> window, long windowFirstFrame, WavLayout layout, int channel, long firstFrame, Span<double> destination)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, layout.Channels);

        // Split the requested range into [zeros before 0) [samples in [0, N)) [zeros from N).
        long frameCount = layout.FrameCount;
        long end = firstFrame + destination.Length;
        long inStart = Math.Clamp(firstFrame, 0, frameCount);
        long inEnd = Math.Clamp(end, 0, frameCount);
        if (inEnd <= inStart)
        {
            destination.Clear();
            return;
        }

        int before = (int)(inStart - firstFrame);
        int count = (int)(inEnd - inStart);
        destination[..before].Clear();
        destination[(before + count)..].Clear();

        int stride = layout.BlockAlign;
        ReadOnlySpan<byte> samples = window.Slice(WindowOffset(window.Length, windowFirstFrame, layout, channel, inStart, count), ((count - 1) * stride) + layout.ContainerBytes);
        Span<double> output = destination.Slice(before, count);
        switch (layout.Format, layout.ContainerBytes)
        {
            case (SampleFormat.SignedPcm, 2):
            {
                int i = stride == 2 ? DecodeInt16Run(samples, output) : 0;
                for (int at = i * stride; i < output.Length; i++, at += stride)
                {
                    output[i] = BinaryPrimitives.ReadInt16LittleEndian(samples[at..]) / Scale16;
                }

                break;
            }
            case (SampleFormat.SignedPcm, 3):
                for (int i = 0, at = 0; i < output.Length; i++, at += stride)
                {
                    int value = samples[at] | (samples[at + 1] << 8) | ((sbyte)samples[at + 2] << 16);
                    output[i] = value / Scale24;
                }

                break;
            case (SampleFormat.SignedPcm, 4):
                for (int i = 0, at = 0; i < output.Length; i++, at += stride)
                {
                    output[i] = BinaryPrimitives.ReadInt32LittleEndian(samples[at..]) / Scale32;
                }

                break;
            case (SampleFormat.UnsignedPcm8, 1):
                for (int i = 0, at = 0; i < output.Length; i++, at += stride)
                {
                    output[i] = (samples[at] - 128) / 128.0;
                }

                break;
            case (SampleFormat.IeeeFloat, 4):
                for (int i = 0, at = 0; i < output.Length; i++, at += stride)
                {
                    output[i] = BinaryPrimitives.ReadSingleLittleEndian(samples[at..]);
                }

                break;
            case (SampleFormat.IeeeFloat, 8):
                for (int i = 0, at = 0; i < output.Length; i++, at += stride)
                {
                    output[i] = BinaryPrimitives.ReadDoubleLittleEndian(samples[at..]);
                }

                break;
            default:
                throw UnsupportedLayout(layout);
        }
    }

    /// <summary>
    /// Encodes <paramref name="values"/> into frames <c>[firstFrame, firstFrame + values.Length)</c> of
    /// <paramref name="channel"/>, rounding half away from zero and clamping.
    /// </summary>
    /// <returns>The number of samples clamped (or, for float, beyond full scale).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The frame range is not inside <c>[0, N)</c>.</exception>
    public static int Encode(Span<byte> file, WavLayout layout, int channel, long firstFrame, ReadOnlySpan<double> values)
    {
        CheckArguments(file.Length, layout, channel);
        return Encode(file.Slice((int)layout.DataOffset, (int)layout.DataLength), 0, layout, channel, firstFrame, values);
    }

    /// <summary>
    /// Encodes <paramref name="values"/> into frames <c>[firstFrame, firstFrame + values.Length)</c> of
    /// <paramref name="channel"/> in a window of the data chunk that starts at frame <paramref name="windowFirstFrame"/>.
    /// </summary>
    /// <returns>The number of samples clamped (or, for float, beyond full scale).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The frame range is not inside <c>[0, N)</c> and the window.</exception>
    public static int Encode(Span<byte> window, long windowFirstFrame, WavLayout layout, int channel, long firstFrame, ReadOnlySpan<double> values)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, layout.Channels);
        ArgumentOutOfRangeException.ThrowIfNegative(firstFrame);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstFrame + values.Length, layout.FrameCount, nameof(values));
        if (values.IsEmpty)
        {
            return 0;
        }

        int stride = layout.BlockAlign;
        Span<byte> samples = window.Slice(WindowOffset(window.Length, windowFirstFrame, layout, channel, firstFrame, values.Length), ((values.Length - 1) * stride) + layout.ContainerBytes);
        int clipped = 0;
        switch (layout.Format, layout.ContainerBytes)
        {
            case (SampleFormat.SignedPcm, 2):
            {
                int i = stride == 2 ? EncodeInt16Run(values, samples) : 0;
                for (int at = i * stride; i < values.Length; i++, at += stride)
                {
                    BinaryPrimitives.WriteInt16LittleEndian(samples[at..], (short)Quantize(values[i], Scale16, ref clipped));
                }

                break;
            }
            case (SampleFormat.SignedPcm, 3):
                for (int i = 0, at = 0; i < values.Length; i++, at += stride)
                {
                    int value = (int)Quantize(values[i], Scale24, ref clipped);
                    samples[at] = (byte)value;
                    samples[at + 1] = (byte)(value >> 8);
                    samples[at + 2] = (byte)(value >> 16);
                }

                break;
            case (SampleFormat.SignedPcm, 4):
                for (int i = 0, at = 0; i < values.Length; i++, at += stride)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(samples[at..], (int)Quantize(values[i], Scale32, ref clipped));
                }

                break;
            case (SampleFormat.UnsignedPcm8, 1):
                for (int i = 0, at = 0; i < values.Length; i++, at += stride)
                {
                    samples[at] = (byte)(Quantize(values[i], 128.0, ref clipped) + 128);
                }

                break;
            case (SampleFormat.IeeeFloat, 4):
                for (int i = 0, at = 0; i < values.Length; i++, at += stride)
                {
                    double value = values[i];
                    clipped += Math.Abs(value) > 1.0 ? 1 : 0;
                    BinaryPrimitives.WriteSingleLittleEndian(samples[at..], (float)value);
                }

                break;
            case (SampleFormat.IeeeFloat, 8):
                for (int i = 0, at = 0; i < values.Length; i++, at += stride)
                {
                    double value = values[i];
                    clipped += Math.Abs(value) > 1.0 ? 1 : 0;
                    BinaryPrimitives.WriteDoubleLittleEndian(samples[at..], value);
                }

                break;
            default:
                throw UnsupportedLayout(layout);
        }

        return clipped;
    }

    /// <summary>
    /// Whether <paramref name="value"/> encodes into <paramref name="layout"/>'s format without clamping: its rounded
    /// integer is in range (integer PCM), or it is within full scale (float).
    /// </summary>
    public static bool IsInRange(WavLayout layout, double value)
    {
        ArgumentNullException.ThrowIfNull(layout);
        double scale = layout.Format switch
        {
            SampleFormat.IeeeFloat => 0,
            SampleFormat.UnsignedPcm8 => 128.0,
            _ => layout.ContainerBytes switch { 2 => Scale16, 3 => Scale24, 4 => Scale32, _ => throw UnsupportedLayout(layout) },
        };
        if (scale == 0)
        {
            return Math.Abs(value) <= 1.0;
        }

        // value * scale is exact (scale is a power of two); inside [-scale, scale - 1] it rounds inside too.
        double scaled = value * scale;
        if (scaled >= -scale && scaled <= scale - 1)
        {
            return true;
        }

        double q = Math.Round(scaled, MidpointRounding.AwayFromZero);
        return q >= -scale && q <= scale - 1;
    }

    /// <summary>
    /// Writes <c>original[i] + change[i]</c> into <c>change[i]</c>, or <c>original[i]</c> where that sum is not
    /// <see cref="IsInRange"/> (the same decision, sample for sample).
    /// </summary>
    /// <returns>How many samples kept their original value.</returns>
    public static int AddWithinRange(WavLayout layout, ReadOnlySpan<double> original, Span<double> change)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (original.Length != change.Length)
        {
            throw new ArgumentException("The change must be as long as the original samples.", nameof(change));
        }

        double scale = layout.Format switch
        {
            SampleFormat.IeeeFloat => 0,
            SampleFormat.UnsignedPcm8 => 128.0,
            _ => layout.ContainerBytes switch { 2 => Scale16, 3 => Scale24, 4 => Scale32, _ => throw UnsupportedLayout(layout) },
        };

        // Whole vectors whose sums are all plainly in range (the common case) are stored at once; any other vector
        // goes sample by sample through IsInRange's rule. For float: |y| <= 1; for integers: y * scale (exact, a power
        // of two) in [-scale, scale - 1].
        int kept = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> low = Vector256.Create(scale == 0 ? -1.0 : -scale);
            Vector256<double> high = Vector256.Create(scale == 0 ? 1.0 : scale - 1);
            Vector256<double> factor = Vector256.Create(scale == 0 ? 1.0 : scale);
            for (; i <= original.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                Vector256<double> sum = Vector256.Create(original[i..]) + Vector256.Create(change[i..]);
                Vector256<double> scaled = sum * factor;
                if (Vector256.GreaterThanOrEqualAll(scaled, low) && Vector256.LessThanOrEqualAll(scaled, high))
                {
                    sum.CopyTo(change[i..]);
                    continue;
                }

                for (int j = i; j < i + Vector256<double>.Count; j++)
                {
                    kept += KeepWithinRange(scale, original[j], ref change[j]);
                }
            }
        }

        for (; i < original.Length; i++)
        {
            kept += KeepWithinRange(scale, original[i], ref change[i]);
        }

        return kept;
    }

    // Contiguous 16-bit samples (one channel), eight at a time: each s / 32768 exactly as the scalar loop computes it
    // (the int-to-double conversion is exact, and so is the division). Returns how many were decoded.
    private static int DecodeInt16Run(ReadOnlySpan<byte> samples, Span<double> output)
    {
        if (!Avx.IsSupported || !BitConverter.IsLittleEndian)
        {
            return 0;
        }

        ReadOnlySpan<short> values = MemoryMarshal.Cast<byte, short>(samples)[..output.Length];
        ref short source = ref MemoryMarshal.GetReference(values);
        ref double destination = ref MemoryMarshal.GetReference(output);
        var scale = Vector256.Create(Scale16);
        int i = 0;
        for (; i <= values.Length - 8; i += 8)
        {
            (Vector128<int> low, Vector128<int> high) = Vector128.Widen(Vector128.LoadUnsafe(ref source, (nuint)i));
            (Avx.ConvertToVector256Double(low) / scale).StoreUnsafe(ref destination, (nuint)i);
            (Avx.ConvertToVector256Double(high) / scale).StoreUnsafe(ref destination, (nuint)i + 4);
        }

        return i;
    }

    // Contiguous 16-bit samples (one channel), eight at a time while all eight round into range: q =
    // round-half-away-from-zero(y * 32768), computed as trunc(s) + sign(s) where |s - trunc(s)| >= 0.5, which is that
    // rounding exactly (as Math.Round's). Stops before the first group of eight holding a NaN or a value to clamp,
    // which the scalar loop then encodes and counts. Returns how many were encoded.
    private static int EncodeInt16Run(ReadOnlySpan<double> values, Span<byte> samples)
    {
        if (!Avx.IsSupported || !BitConverter.IsLittleEndian)
        {
            return 0;
        }

        Span<short> output = MemoryMarshal.Cast<byte, short>(samples)[..values.Length];
        ref double source = ref MemoryMarshal.GetReference(values);
        ref short destination = ref MemoryMarshal.GetReference(output);
        var scale = Vector256.Create(Scale16);
        var low = Vector256.Create(-Scale16);
        var high = Vector256.Create(Scale16 - 1);
        int i = 0;
        for (; i <= values.Length - 8; i += 8)
        {
            Vector256<double> first = RoundHalfAwayFromZero(Vector256.LoadUnsafe(ref source, (nuint)i) * scale);
            Vector256<double> second = RoundHalfAwayFromZero(Vector256.LoadUnsafe(ref source, (nuint)i + 4) * scale);
            if (!(Vector256.GreaterThanOrEqualAll(first, low) && Vector256.LessThanOrEqualAll(first, high)
                && Vector256.GreaterThanOrEqualAll(second, low) && Vector256.LessThanOrEqualAll(second, high)))
            {
                break;
            }

            Vector128<short> packed = Sse2.PackSignedSaturate(
                Avx.ConvertToVector128Int32WithTruncation(first), Avx.ConvertToVector128Int32WithTruncation(second));
            packed.StoreUnsafe(ref destination, (nuint)i);
        }

        return i;
    }

    private static Vector256<double> RoundHalfAwayFromZero(Vector256<double> value)
    {
        Vector256<double> whole = Vector256.Truncate(value);
        Vector256<double> away = Vector256.GreaterThanOrEqual(Vector256.Abs(value - whole), Vector256.Create(0.5));
        return whole + (away & Vector256.CopySign(Vector256<double>.One, value));
    }

    // round-half-away-from-zero(y * scale) clamped to [-scale, scale - 1]; for 8-bit the caller adds the 128 offset,
    // which maps that range onto [0, 255].
    private static long Quantize(double value, double scale, ref int clipped)
    {
        double q = Math.Round(value * scale, MidpointRounding.AwayFromZero);
        if (q < -scale)
        {
            clipped++;
            return (long)-scale;
        }

        if (q > scale - 1)
        {
            clipped++;
            return (long)scale - 1;
        }

        if (double.IsNaN(q))
        {
            clipped++;
            return 0;
        }

        return (long)q;
    }

    // The offset in the window of channel's sample of frame, after checking that count frames from there are in it.
    private static int WindowOffset(int windowLength, long windowFirstFrame, WavLayout layout, int channel, long frame, int count)
    {
        long windowFrames = windowLength / layout.BlockAlign;
        if (frame < windowFirstFrame || frame + count > windowFirstFrame + windowFrames)
        {
            throw new ArgumentOutOfRangeException(
                nameof(frame), $"Frames [{frame}, {frame + count}) are not all in the window of frames [{windowFirstFrame}, {windowFirstFrame + windowFrames}).");
        }

        return checked((int)(((frame - windowFirstFrame) * layout.BlockAlign) + ((long)channel * layout.ContainerBytes)));
    }

    private static void CheckArguments(int fileLength, WavLayout layout, int channel)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, layout.Channels);
        if (layout.DataOffset < 0 || layout.DataOffset + layout.DataLength > fileLength)
        {
            throw new ArgumentException(
                $"The layout's data ({layout.DataLength} bytes at offset {layout.DataOffset}) does not fit a file of {fileLength} bytes.",
                nameof(layout));
        }
    }

    // IsInRange's rule for one sample, scale 0 meaning float: 1 where the original value is kept.
    private static int KeepWithinRange(double scale, double original, ref double change)
    {
        double value = original + change;
        bool inRange;
        if (scale == 0)
        {
            inRange = Math.Abs(value) <= 1.0;
        }
        else
        {
            double scaled = value * scale;
            double q = Math.Round(scaled, MidpointRounding.AwayFromZero);
            inRange = (scaled >= -scale && scaled <= scale - 1) || (q >= -scale && q <= scale - 1);
        }

        change = inRange ? value : original;
        return inRange ? 0 : 1;
    }

    private static ArgumentException UnsupportedLayout(WavLayout layout)
        => new($"Unsupported sample layout: {layout.Format} in {layout.ContainerBytes}-byte containers.", nameof(layout));
}
