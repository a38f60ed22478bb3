using System.Buffers.Binary;
using FsCheck.Xunit;
using PosCuda.Shared.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Audio;

public sealed class SampleCodecTests
{
    private const double Lsb16 = 1.0 / 32768;
    private const double Lsb24 = 1.0 / 8388608;
    private const double Lsb32 = 1.0 / 2147483648;

    // ---- decode ----

    [Fact]
    public void Decode_Unsigned8_OffsetBy128()
        => AssertDecodes(SampleFormat.UnsignedPcm8, 1, [0x00, 0x80, 0xFF, 0x40, 0x81], [-1.0, 0.0, 127.0 / 128, -0.5, 1.0 / 128]);

    [Fact]
    public void Decode_Int16_DividesBy32768()
        => AssertDecodes(
            SampleFormat.SignedPcm, 2,
            [0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x40],
            [-1.0, 32767 * Lsb16, Lsb16, -Lsb16, 0.5]);

    [Fact]
    public void Decode_Int24_SignExtendsAndDividesBy2Pow23()
        => AssertDecodes(
            SampleFormat.SignedPcm, 3,
            [0x00, 0x00, 0x80, 0xFF, 0xFF, 0x7F, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC0],
            [-1.0, 8388607 * Lsb24, Lsb24, -Lsb24, -0.5]);

    [Fact]
    public void Decode_Int32_DividesBy2Pow31()
        => AssertDecodes(
            SampleFormat.SignedPcm, 4,
            [0x00, 0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0x7F, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF],
            [-1.0, int.MaxValue * Lsb32, Lsb32, -Lsb32]);

    [Fact]
    public void Decode_Float32_WidenedAsIs()
    {
        double[] expected = [0.5, -2.0, 0.1f, float.Epsilon, double.NegativeInfinity];
        AssertDecodes(SampleFormat.IeeeFloat, 4, WavBuilder.EncodeSamples(SampleFormat.IeeeFloat, 4, expected), expected);
    }

    [Fact]
    public void Decode_Float64_AsIs()
    {
        double[] expected = [0.1, -3.0, double.Epsilon, 1.0 / 3];
        AssertDecodes(SampleFormat.IeeeFloat, 8, WavBuilder.EncodeSamples(SampleFormat.IeeeFloat, 8, expected), expected);
    }

    [Fact]
    public void Decode_Int16Stereo_ReadsOnlyTheChannel()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 2, [0x00, 0x40, 0x00, 0xC0, 0x00, 0x20, 0x00, 0xE0]);
        double[] left = new double[2];
        double[] right = new double[2];

        SampleCodec.Decode(file, layout, 0, 0, left);
        SampleCodec.Decode(file, layout, 1, 0, right);

        Assert.Equal([0.5, 0.25], left);
        Assert.Equal([-0.5, -0.25], right);
    }

    [Fact]
    public void Decode_FramesOutsideClip_DecodeAsZero()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, [0x00, 0x40, 0x00, 0xC0, 0x00, 0x20]);
        double[] values = Enumerable.Repeat(double.NaN, 9).ToArray();

        SampleCodec.Decode(file, layout, 0, -3, values);

        Assert.Equal([0, 0, 0, 0.5, -0.5, 0.25, 0, 0, 0], values);
    }

    [Theory]
    [InlineData(-10)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Decode_RangeEntirelyOutsideClip_AllZero(long firstFrame)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.UnsignedPcm8, 1, channels: 1, [0x00, 0xFF, 0x10]);
        double[] values = Enumerable.Repeat(double.NaN, 5).ToArray();

        SampleCodec.Decode(file, layout, 0, firstFrame, values);

        Assert.All(values, v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Decode_EmptyClip_AllZero()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 3, channels: 2, []);
        double[] values = [1, 2, 3];

        SampleCodec.Decode(file, layout, 1, -1, values);

        Assert.Equal([0.0, 0.0, 0.0], values);
    }

    [Fact]
    public void Decode_ChannelOutOfRange_Throws()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 2, new byte[8]);

        Assert.Throws<ArgumentOutOfRangeException>(() => SampleCodec.Decode(file, layout, 2, 0, new double[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleCodec.Decode(file, layout, -1, 0, new double[1]));
    }

    [Fact]
    public void Decode_LayoutLargerThanFile_Throws()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[8]);

        Assert.Throws<ArgumentException>(() => SampleCodec.Decode(file.AsSpan(0, 50), layout, 0, 0, new double[4]));
    }

    // ---- encode: rounding ----

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(-0.5, -1)]
    [InlineData(1.5, 2)]
    [InlineData(-1.5, -2)]
    [InlineData(2.5, 3)] // banker's rounding would give 2
    [InlineData(-2.5, -3)]
    [InlineData(2.4999999, 2)]
    [InlineData(0.4999999, 0)]
    public void Encode_Int16HalfLsb_RoundsHalfAwayFromZero(double lsbs, short expected)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[2]);

        int clipped = SampleCodec.Encode(file, layout, 0, 0, [lsbs * Lsb16]);

        Assert.Equal(0, clipped);
        Assert.Equal(expected, BinaryPrimitives.ReadInt16LittleEndian(file.AsSpan((int)layout.DataOffset)));
    }

    [Theory]
    [InlineData(2.5, 3)]
    [InlineData(-2.5, -3)]
    [InlineData(0.5, 1)]
    [InlineData(-0.5, -1)]
    public void Encode_Int24HalfLsb_RoundsHalfAwayFromZero(double lsbs, int expected)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 3, channels: 1, new byte[3]);

        SampleCodec.Encode(file, layout, 0, 0, [lsbs * Lsb24]);

        int offset = (int)layout.DataOffset;
        int stored = file[offset] | (file[offset + 1] << 8) | ((sbyte)file[offset + 2] << 16);
        Assert.Equal(expected, stored);
    }

    [Theory]
    [InlineData(2.5, 3)]
    [InlineData(-2.5, -3)]
    [InlineData(-0.5, -1)]
    public void Encode_Int32HalfLsb_RoundsHalfAwayFromZero(double lsbs, int expected)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 4, channels: 1, new byte[4]);

        SampleCodec.Encode(file, layout, 0, 0, [lsbs * Lsb32]);

        Assert.Equal(expected, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan((int)layout.DataOffset)));
    }

    [Theory]
    [InlineData(0.5, 129)]
    [InlineData(-0.5, 127)]
    [InlineData(2.5, 131)] // banker's rounding would give 130
    [InlineData(-2.5, 125)]
    [InlineData(0.0, 128)]
    public void Encode_Unsigned8HalfLsb_RoundsHalfAwayFromZero(double lsbs, byte expected)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.UnsignedPcm8, 1, channels: 1, new byte[1]);

        SampleCodec.Encode(file, layout, 0, 0, [lsbs / 128]);

        Assert.Equal(expected, file[(int)layout.DataOffset]);
    }

    // ---- encode: clamping and clip counting ----

    [Fact]
    public void Encode_Int16FullScale_ClampsAndCounts()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[12]);

        // +1.0 -> 32768 -> 32767 (clipped); -1.0 -> -32768 fits; the rest clamp.
        int clipped = SampleCodec.Encode(file, layout, 0, 0, [1.0, -1.0, 2.0, -1.5, double.PositiveInfinity, 32767.4 * Lsb16]);

        Assert.Equal(4, clipped);
        Assert.Equal([32767, -32768, 32767, -32768, 32767, 32767], ReadInt16s(file, layout));
    }

    [Fact]
    public void Encode_Int16JustBelowHalfOverFullScale_NotClipped()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[4]);

        int clipped = SampleCodec.Encode(file, layout, 0, 0, [32767.49 * Lsb16, -32768.49 * Lsb16]);

        Assert.Equal(0, clipped);
        Assert.Equal([32767, -32768], ReadInt16s(file, layout));
    }

    [Fact]
    public void Encode_Unsigned8FullScale_ClampsAndCounts()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.UnsignedPcm8, 1, channels: 1, new byte[4]);

        int clipped = SampleCodec.Encode(file, layout, 0, 0, [1.0, -1.0, -1.01, 127.4 / 128]);

        Assert.Equal(2, clipped);
        Assert.Equal([255, 0, 0, 255], file[(int)layout.DataOffset..]);
    }

    [Theory]
    [InlineData(3, 0x7FFFFF)]
    [InlineData(4, int.MaxValue)]
    public void Encode_WideIntFullScale_ClampsAndCounts(int containerBytes, int expectedMax)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, containerBytes, channels: 1, new byte[2 * containerBytes]);

        int clipped = SampleCodec.Encode(file, layout, 0, 0, [1.0, -1.0]);

        double[] decoded = new double[2];
        SampleCodec.Decode(file, layout, 0, 0, decoded);
        Assert.Equal(1, clipped);
        Assert.Equal([expectedMax / Math.ScaleB(1.0, (8 * containerBytes) - 1), -1.0], decoded);
    }

    [Fact]
    public void Encode_IntegerNaN_StoresZeroAndCounts()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, [0x34, 0x12]);

        int clipped = SampleCodec.Encode(file, layout, 0, 0, [double.NaN]);

        Assert.Equal(1, clipped);
        Assert.Equal([0], ReadInt16s(file, layout));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void Encode_FloatBeyondFullScale_StoredAsIsAndCounted(int containerBytes)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.IeeeFloat, containerBytes, channels: 1, new byte[5 * containerBytes]);
        double[] values = [1.5, -1.0, 1.0, -2.25, 0.75];

        int clipped = SampleCodec.Encode(file, layout, 0, 0, values);

        double[] decoded = new double[5];
        SampleCodec.Decode(file, layout, 0, 0, decoded);
        Assert.Equal(2, clipped);
        Assert.Equal(values, decoded);
    }

    [Fact]
    public void Encode_Float32_StoresNarrowedValue()
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.IeeeFloat, 4, channels: 1, new byte[4]);

        SampleCodec.Encode(file, layout, 0, 0, [0.1]);

        Assert.Equal(0.1f, BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan((int)layout.DataOffset)));
    }

    // ---- encode: locality ----

    [Fact]
    public void Encode_Range_TouchesOnlyThatChannelAndFrames()
    {
        WavBuilder builder = new WavBuilder { Channels = 3, ContainerBytes = 3 }.WithNoise(8, seed: 11) with
        {
            ChunksBeforeData = [WavChunk.Filler("LIST", 5)],
            ChunksAfterData = [WavChunk.Filler("cue ", 9)],
        };
        byte[] original = builder.Build();
        byte[] file = (byte[])original.Clone();
        WavLayout layout = WavReader.ReadLayout(file, "k");

        SampleCodec.Encode(file, layout, 1, 2, [0.123, -0.456, 0.789]);

        int changedExpected = 0;
        for (int i = 0; i < file.Length; i++)
        {
            long relative = i - layout.DataOffset;
            bool inside = relative >= 0 && relative < layout.DataLength
                && relative / layout.BlockAlign is >= 2 and < 5
                && relative % layout.BlockAlign / layout.ContainerBytes == 1;
            if (!inside)
            {
                Assert.True(original[i] == file[i], $"byte {i} changed outside channel 1, frames [2, 5)");
            }
            else
            {
                changedExpected++;
            }
        }

        double[] decoded = new double[3];
        SampleCodec.Decode(file, layout, 1, 2, decoded);
        Assert.Equal(9, changedExpected);
        Assert.Equal([Math.Round(0.123 * 8388608) * Lsb24, Math.Round(-0.456 * 8388608) * Lsb24, Math.Round(0.789 * 8388608) * Lsb24], decoded);
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(3, 2)]
    [InlineData(5, 0)]
    public void Encode_RangeOutsideClip_Throws(long firstFrame, int length)
    {
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[8]);
        byte[] before = (byte[])file.Clone();

        Assert.Throws<ArgumentOutOfRangeException>(() => SampleCodec.Encode(file, layout, 0, firstFrame, new double[length]));
        Assert.Equal(before, file);
    }

    // ---- properties over random layouts ----

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 200)]
    public void DecodeThenEncode_RandomLayoutAndRange_FileUnchanged(CodecCase c)
    {
        byte[] original = c.Builder.Build(out int dataOffset);
        byte[] file = (byte[])original.Clone();
        WavBuilder b = c.Builder;

        WavLayout layout = WavReader.ReadLayout(file, "prop");

        int blockAlign = b.Channels * b.ContainerBytes;
        Assert.Equal(new WavLayout(b.Format, b.Channels, b.SampleRate, b.ContainerBytes, blockAlign, dataOffset, (long)c.Frames * blockAlign), layout);

        double[] decoded = new double[c.DecodeLength];
        SampleCodec.Decode(file, layout, c.Channel, c.DecodeStart, decoded);
        int inStart = Math.Clamp(c.DecodeStart, 0, c.Frames);
        int inEnd = Math.Clamp(c.DecodeStart + c.DecodeLength, 0, c.Frames);
        for (int i = 0; i < decoded.Length; i++)
        {
            int frame = c.DecodeStart + i;
            if (frame < 0 || frame >= c.Frames)
            {
                Assert.Equal(0.0, decoded[i]);
            }
        }

        ReadOnlySpan<double> inside = inEnd > inStart ? decoded.AsSpan(inStart - c.DecodeStart, inEnd - inStart) : [];
        int clipped = SampleCodec.Encode(file, layout, c.Channel, inStart, inside);

        int beyondFullScale = 0;
        foreach (double v in inside)
        {
            beyondFullScale += Math.Abs(v) > 1.0 ? 1 : 0;
        }

        Assert.Equal(b.Format == SampleFormat.IeeeFloat ? beyondFullScale : 0, clipped);
        Assert.Equal(original, file);
    }

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 200)]
    public void Encode_ArbitraryValues_ChangesOnlyChannelSamplesInRange(CodecCase c)
    {
        byte[] original = c.Builder.Build();
        byte[] file = (byte[])original.Clone();
        WavLayout layout = WavReader.ReadLayout(file, "prop");
        double[] values = RandomValues(c.ValueSeed, c.EncodeLength, layout);

        int clipped = SampleCodec.Encode(file, layout, c.Channel, c.EncodeStart, values);

        // Bytes outside the channel's samples in the range are untouched.
        int container = layout.ContainerBytes;
        for (int i = 0; i < file.Length; i++)
        {
            long relative = i - layout.DataOffset;
            long frame = relative / layout.BlockAlign;
            bool inside = relative >= 0 && relative < layout.DataLength
                && frame >= c.EncodeStart && frame < c.EncodeStart + c.EncodeLength
                && relative % layout.BlockAlign / container == c.Channel;
            if (!inside && original[i] != file[i])
            {
                Assert.Fail($"byte {i} changed outside channel {c.Channel}, frames [{c.EncodeStart}, {c.EncodeStart + c.EncodeLength})");
            }
        }

        // Samples inside hold what the independent encoder of WavBuilder writes, and the clip count matches.
        byte[] oracle = WavBuilder.EncodeSamples(layout.Format, container, values);
        for (int n = 0; n < values.Length; n++)
        {
            int at = (int)layout.DataOffset + ((c.EncodeStart + n) * layout.BlockAlign) + (c.Channel * container);
            Assert.True(
                oracle.AsSpan(n * container, container).SequenceEqual(file.AsSpan(at, container)),
                $"sample {n} ({values[n]:R}) differs from the reference encoder");
        }

        Assert.Equal(ExpectedClipCount(values, layout), clipped);
    }

    private static double[] RandomValues(int seed, int count, WavLayout layout)
    {
        var random = new Random(seed);
        double lsb = layout.Format == SampleFormat.IeeeFloat ? 1e-7 : Math.ScaleB(1.0, 1 - (8 * layout.ContainerBytes));
        double[] values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = random.Next(12) switch
            {
                0 => (random.Next(-1 << 20, 1 << 20) + 0.5) * lsb, // exact half LSB
                1 => random.Next(2) == 0 ? 1.0 : -1.0,
                2 => (random.NextDouble() * 4.0) - 2.0,
                3 => random.Next(4) switch { 0 => double.NaN, 1 => double.PositiveInfinity, 2 => double.NegativeInfinity, _ => -0.0 },
                4 => (1.0 - (0.5 * lsb)) * (random.Next(2) == 0 ? 1 : -1),
                _ => (random.NextDouble() * 2.0) - 1.0,
            };
        }

        return values;
    }

    private static int ExpectedClipCount(double[] values, WavLayout layout)
    {
        int count = 0;
        foreach (double y in values)
        {
            if (layout.Format == SampleFormat.IeeeFloat)
            {
                count += Math.Abs(y) > 1.0 ? 1 : 0;
                continue;
            }

            double full = layout.Format == SampleFormat.UnsignedPcm8 ? 128.0 : Math.ScaleB(1.0, (8 * layout.ContainerBytes) - 1);
            double q = Math.Round(y * full, MidpointRounding.AwayFromZero);
            count += double.IsNaN(q) || q < -full || q > full - 1 ? 1 : 0;
        }

        return count;
    }

    // ---- long runs (the vector paths) against one sample at a time (the scalar path) ----

    [Fact]
    public void Decode_Int16LongRun_SameAsOneSampleAtATime()
    {
        var random = new Random(16);
        byte[] data = new byte[2 * 1001];
        random.NextBytes(data);
        data[0] = 0x00;
        data[1] = 0x80; // -32768
        data[2] = 0xFF;
        data[3] = 0x7F; // 32767
        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, data);
        double[] all = new double[1001];

        SampleCodec.Decode(file, layout, 0, 0, all);

        for (int i = 0; i < all.Length; i++)
        {
            double[] one = new double[1];
            SampleCodec.Decode(file, layout, 0, i, one);
            Assert.Equal(BitConverter.DoubleToInt64Bits(one[0]), BitConverter.DoubleToInt64Bits(all[i]));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Encode_Int16LongRun_SameBytesAndClipsAsOneSampleAtATime(bool withSpecials)
    {
        var random = new Random(withSpecials ? 17 : 18);
        double[] values = new double[1003];
        for (int i = 0; i < values.Length; i++)
        {
            // Exact half-LSB points, values just either side of them, zeros of both signs, quiet and loud noise.
            double lsbs = random.Next(-32768, 32768) + (random.Next(4) switch { 0 => 0.5, 1 => 0.5 - 1e-9, 2 => -0.5, _ => random.NextDouble() });
            values[i] = (i % 10) switch { 0 => -0.0, 1 => 0.0, _ => lsbs / 32768 };
        }

        if (withSpecials)
        {
            values[500] = double.NaN;
            values[700] = 1.0;
            values[701] = -1.0 - (0.5 / 32768);
            values[702] = (32767.5 - 1e-9) / 32768;
            values[900] = double.NegativeInfinity;
        }

        (byte[] file, WavLayout layout) = Make(SampleFormat.SignedPcm, 2, channels: 1, new byte[2 * values.Length]);
        byte[] oneByOne = (byte[])file.Clone();
        int expectedClipped = 0;
        for (int i = 0; i < values.Length; i++)
        {
            expectedClipped += SampleCodec.Encode(oneByOne, layout, 0, i, values.AsSpan(i, 1));
        }

        int clipped = SampleCodec.Encode(file, layout, 0, 0, values);

        Assert.Equal(oneByOne, file);
        Assert.Equal(expectedClipped, clipped);
        Assert.Equal(withSpecials ? 4 : 0, clipped); // NaN, 1.0, -1 - half an LSB and -inf
    }

    // ---- adding a change within range ----

    [Theory]
    [InlineData(SampleFormat.UnsignedPcm8, 1)]
    [InlineData(SampleFormat.SignedPcm, 2)]
    [InlineData(SampleFormat.SignedPcm, 3)]
    [InlineData(SampleFormat.SignedPcm, 4)]
    [InlineData(SampleFormat.IeeeFloat, 4)]
    [InlineData(SampleFormat.IeeeFloat, 8)]
    public void AddWithinRange_EdgesAndSpecialValues_DecidesAsIsInRange(SampleFormat format, int containerBytes)
    {
        (_, WavLayout layout) = Make(format, containerBytes, channels: 1, new byte[containerBytes]);
        double lsb = format == SampleFormat.IeeeFloat ? 1e-7 : format == SampleFormat.UnsignedPcm8 ? 1.0 / 128 : Math.Pow(2, 1 - (8 * containerBytes));
        var random = new Random(containerBytes);
        double[] special = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, 1.0, -1.0, 1.0 - lsb, 1.0 - (lsb / 2), 1.0 - (lsb / 2) - 1e-12, -1.0 - (lsb / 2), -1.0 - (lsb / 2) + 1e-12];
        double[] original = new double[1003];
        double[] change = new double[original.Length];
        for (int i = 0; i < original.Length; i++)
        {
            // Mostly quiet samples with small changes (whole vectors in range), some near or beyond full scale.
            original[i] = i % 37 == 0 ? special[random.Next(special.Length)] : (random.NextDouble() - 0.5) * (i % 5 == 0 ? 2.01 : 0.5);
            change[i] = i % 41 == 0 ? special[random.Next(special.Length)] : (random.NextDouble() - 0.5) * (i % 3 == 0 ? 4 * lsb : 0.01);
        }

        double[] expected = new double[original.Length];
        int expectedKept = 0;
        for (int i = 0; i < original.Length; i++)
        {
            double sum = original[i] + change[i];
            bool inRange = SampleCodec.IsInRange(layout, sum);
            expected[i] = inRange ? sum : original[i];
            expectedKept += inRange ? 0 : 1;
        }

        int kept = SampleCodec.AddWithinRange(layout, original, change);

        Assert.InRange(expectedKept, 1, original.Length - 1);
        Assert.Equal(expectedKept, kept);
        for (int i = 0; i < original.Length; i++)
        {
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(change[i]) || (double.IsNaN(expected[i]) && double.IsNaN(change[i])), $"sample {i}: {change[i]:R}, expected {expected[i]:R}");
        }
    }

    private static (byte[] File, WavLayout Layout) Make(SampleFormat format, int containerBytes, int channels, byte[] data)
    {
        byte[] file = new WavBuilder { Format = format, ContainerBytes = containerBytes, Channels = channels, Data = data }.Build();
        return (file, WavReader.ReadLayout(file, "codec-test.wav"));
    }

    private static void AssertDecodes(SampleFormat format, int containerBytes, byte[] data, double[] expected)
    {
        (byte[] file, WavLayout layout) = Make(format, containerBytes, channels: 1, data);
        double[] decoded = new double[expected.Length];

        SampleCodec.Decode(file, layout, 0, 0, decoded);

        Assert.Equal(expected, decoded);

        // And the decoded values encode back to the same bytes.
        byte[] copy = (byte[])file.Clone();
        SampleCodec.Encode(copy, layout, 0, 0, decoded);
        Assert.Equal(file, copy);
    }

    private static short[] ReadInt16s(byte[] file, WavLayout layout)
    {
        short[] values = new short[layout.FrameCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt16LittleEndian(file.AsSpan((int)layout.DataOffset + (2 * i)));
        }

        return values;
    }
}
