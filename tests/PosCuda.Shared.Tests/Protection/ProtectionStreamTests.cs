using PosCuda.Shared.Audio;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Storage;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>
/// Protecting a clip step by step (<see cref="ProtectionStream"/>: a window at a time, as a long recording is streamed)
/// gives the bytes of protecting the whole file, whatever the step size, wherever a poscuda-v2 group boundary or a
/// poscuda-v1 filter context falls against a step's edge.
/// </summary>
public sealed class ProtectionStreamTests
{
    private static readonly byte[] s_secret = Enumerable.Range(0, 32).Select(i => (byte)(255 - (i * 3))).ToArray();

    // 8 kHz: L = 256, H = 128, a group of 512 frames spans 65,536 samples (frame 512 starts at sample 65,408).
    [Theory]
    [InlineData(SampleFormat.SignedPcm, 3, 2, 8000, 200_003, 1)]              // 24-bit stereo, one group per step
    [InlineData(SampleFormat.SignedPcm, 3, 3, 8000, 131_077, 1)]              // 9-byte frames
    [InlineData(SampleFormat.SignedPcm, 2, 1, 8000, 65_536, 1)]               // 513 frames: the last group holds one
    [InlineData(SampleFormat.SignedPcm, 2, 1, 8000, 65_408, 1)]               // 512 frames: one group exactly
    [InlineData(SampleFormat.SignedPcm, 2, 1, 8000, 65_409, 1)]               // one sample into the second group's frame
    [InlineData(SampleFormat.SignedPcm, 2, 2, 8000, 327_680 - 129, 131_072)]  // two groups per step
    [InlineData(SampleFormat.SignedPcm, 2, 2, 8000, 327_680 + 1, 196_607)]    // a step size that is not a whole number of groups
    [InlineData(SampleFormat.SignedPcm, 4, 1, 8000, 150_000, long.MaxValue)]  // the whole clip in one step
    [InlineData(SampleFormat.IeeeFloat, 4, 2, 16000, 300_001, 1)]             // float beyond full scale: kept as is
    [InlineData(SampleFormat.IeeeFloat, 8, 1, 8000, 140_000, 1)]
    [InlineData(SampleFormat.UnsignedPcm8, 1, 1, 8000, 65_536 + 127, 1)]
    [InlineData(SampleFormat.SignedPcm, 2, 1, 8000, 100, 1)]                  // shorter than one frame
    [InlineData(SampleFormat.SignedPcm, 2, 1, 8000, 0, 1)]                    // empty
    public void OpenStream_SpecV2_EqualsWholeFileProtect(SampleFormat format, int containerBytes, int channels, int rate, int frames, long stepFrames)
    {
        var builder = new WavBuilder
        {
            Format = format, ContainerBytes = containerBytes, Channels = channels, SampleRate = rate,
            ChunksBeforeData = [WavChunk.Filler("LIST", 13)], ChunksAfterData = [WavChunk.Filler("cue ", 7)],
        };
        byte[] input = builder.WithNoise(frames, frames + channels).Build();
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName);

        AssertStreamEqualsWhole(PoscudaV2.Instance, input, parameters, stepFrames);
    }

    [Fact]
    public void OpenStream_SpecV2WithSilentGroupsAndLoudSamples_EqualsWholeFileProtect()
    {
        // Noise, then a silent stretch across a group boundary (cells of zero energy), then full-scale samples where
        // the keep-the-original rule holds, over three groups of 16-bit stereo.
        const int Frames = 200_000;
        var random = new Random(3);
        double[] samples = new double[Frames * 2];
        for (int i = 0; i < Frames; i++)
        {
            double value = i is > 50_000 and < 90_000 ? 0 : i > 150_000 ? Math.Clamp(3 * Math.Sin(i * 0.05), -1, 1) : random.NextDouble() - 0.5;
            samples[2 * i] = value;
            samples[(2 * i) + 1] = -value * 0.5;
        }

        byte[] input = new WavBuilder { Channels = 2 }.WithSamples(samples).Build();
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName, code: new SpectralCodeParameters(16, 8, 300, 3800, 12, 1.0));

        AssertStreamEqualsWhole(PoscudaV2.Instance, input, parameters, stepFrames: 1);
    }

    [Theory]
    [InlineData(80, 1, 3, 2, 10_007)]       // 24-bit stereo, one frame per step: every step's context straddles its edges
    [InlineData(81, 7, 1, 3, 10_007)]       // 8-bit, 3 channels
    [InlineData(1, 1000, 2, 1, 5_000)]      // k = 1: no context
    [InlineData(2040, 4099, 8, 1, 20_000)]  // float64, context longer than a step
    [InlineData(80, 16_385, 4, 2, 40_000)]  // steps past the convolution's own 16,384-sample chunks
    [InlineData(80, 1_000_000, 3, 2, 3_000)] // one step
    [InlineData(80, long.MaxValue, 2, 1, 3_000)]
    public void OpenStream_SpecV1WholeMode_EqualsWholeFileProtect(int taps, long stepFrames, int containerBytes, int channels, int frames)
    {
        SampleFormat format = containerBytes switch { 1 => SampleFormat.UnsignedPcm8, 8 => SampleFormat.IeeeFloat, _ => SampleFormat.SignedPcm };
        byte[] input = new WavBuilder { Format = format, ContainerBytes = containerBytes, Channels = channels, ChunksAfterData = [WavChunk.Filler("LIST", 9)] }
            .WithNoise(frames, taps).Build();
        var parameters = new ProtectionParameters(taps, 240, blur: 3.0, window: 4000, mode: PatchMode.Whole);

        AssertStreamEqualsWhole(PoscudaV1.Instance, input, parameters, stepFrames);
    }

    [Fact]
    public void OpenStream_SpecV1Positional_ChangesThePatchAlone()
    {
        byte[] input = new WavBuilder { Channels = 2 }.WithNoise(9_000, 5).Build();
        var parameters = new ProtectionParameters();

        AssertStreamEqualsWhole(PoscudaV1.Instance, input, parameters, stepFrames: 100);
    }

    [Fact]
    public void OpenStream_TenMinuteRecording_EqualsWholeFileProtectAndAttenuatesTheLastGroup()
    {
        // Issue 9: a 10-minute recording carries the cue throughout, also when it is streamed: its last group (the
        // last 2 s) has its coded slots attenuated, its other slots untouched.
        const int Rate = 8000;
        const int Frames = 10 * 60 * Rate;
        var random = new Random(11);
        double[] samples = new double[Frames];
        double lowPassed = 0;
        for (int i = 0; i < Frames; i++)
        {
            lowPassed = (0.9 * lowPassed) + (0.1 * (random.NextDouble() - 0.5));
            double envelope = Math.Pow(Math.Max(0, Math.Sin(2 * Math.PI * i / (Rate * 0.7))), 2);
            samples[i] = (4 * lowPassed * envelope) + (0.05 * (random.NextDouble() - 0.5));
        }

        byte[] input = new WavBuilder { SampleRate = Rate }.WithSamples(samples).Build();
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName);
        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(s_secret, "class", parameters); // as AssertStreamEqualsWhole derives it

        byte[] output = AssertStreamEqualsWhole(PoscudaV2.Instance, input, parameters, stepFrames: 1);

        WavLayout layout = WavReader.ReadLayout(input, "long.wav");
        var x = new double[Frames];
        var y = new double[Frames];
        SampleCodec.Decode(input, layout, 0, 0, x);
        SampleCodec.Decode(output, layout, 0, 0, y);
        var filter = SpectralCodeFilter.For(Rate, patch.Code, parameters.Code);
        long lastGroup = (filter.FrameCount(Frames) - 1) / SpectralCodeFilter.GroupFrames;
        (long lastGroupStart, long lastGroupEnd) = filter.GroupSamples(lastGroup, Frames);
        Assert.Equal((73L, 4_784_000L, (long)Frames), (lastGroup, lastGroupStart, lastGroupEnd)); // 37,501 frames: the last group is 2 s
        (double coded, double free) = Depths(x, y, patch, parameters.Code, (int)lastGroupStart, Rate);
        Assert.True(coded < -6, $"the last group's coded slots are only {coded:F1} dB down");
        Assert.True(Math.Abs(free) < 0.5, $"the last group's uncoded slots changed by {free:F1} dB");
    }

    // The mean change, in dB, of the coded and of the uncoded slots' interiors from start to the clip's end (32 ms Hann
    // frames, a probe every 20 Hz).
    private static (double Coded, double Free) Depths(double[] x, double[] y, ClassPatch patch, SpectralCodeParameters code, int start, int rate)
    {
        double low = MelScale.ToMel(code.MinFrequency);
        double high = MelScale.ToMel(Math.Min(code.MaxFrequency, rate / 2.0));
        double coded = 0, free = 0;
        int codedCount = 0, freeCount = 0;
        for (int f = 60; f < 3960; f += 20)
        {
            int slot = (int)Math.Floor(code.Slots * (MelScale.ToMel(f) - low) / (high - low));
            double edge = Math.Min(
                Math.Abs(PoscudaV2Tests.SlotEdge(slot, code.Slots, low, high) - f), Math.Abs(PoscudaV2Tests.SlotEdge(slot + 1, code.Slots, low, high) - f));
            if (edge < 60)
            {
                continue; // near a slot edge the attenuation rolls off; judge slot interiors only
            }

            for (int frame = start; frame + 256 <= x.Length; frame += 256)
            {
                double db = 10 * Math.Log10(PoscudaV2Tests.BinEnergy(y, frame, 256, rate, f) / PoscudaV2Tests.BinEnergy(x, frame, 256, rate, f));
                if (Array.IndexOf(patch.Code, slot) >= 0)
                {
                    coded += db;
                    codedCount++;
                }
                else
                {
                    free += db;
                    freeCount++;
                }
            }
        }

        return (coded / codedCount, free / freeCount);
    }

    // Streams the clip as BatchProcessor does (each window read afresh from the source, its changed bytes written in
    // order) and asserts the output and result equal the whole-file protect's; returns the output.
    private static byte[] AssertStreamEqualsWhole(IProtectionSpec spec, byte[] input, ProtectionParameters parameters, long stepFrames)
    {
        ClassPatch patch = spec.DeriveClassPatch(s_secret, "class", parameters);
        byte[] expected = (byte[])input.Clone();
        ProtectResult wholeResult = spec.Protect(expected, patch, parameters, "case.wav");

        WavLayout layout = WavReader.ReadLayout(input, "case.wav");
        ProtectionStream stream = spec.OpenStream(layout, patch, parameters, stepFrames)!;
        byte[] output = (byte[])input.Clone();
        long changedEnd = wholeResult.PatchStart;
        int steps = 0;
        while (stream.NextStep() is { } step)
        {
            Assert.Equal(changedEnd, step.ChangeFirstFrame);
            Assert.InRange(step.ReadFrameCount, 1, stream.MaxStepFrames);
            Assert.InRange(step.ChangeFirstFrame, step.ReadFirstFrame, step.ReadFirstFrame + step.ReadFrameCount);
            Assert.InRange(step.ChangeFirstFrame + step.ChangeFrameCount, step.ChangeFirstFrame, step.ReadFirstFrame + step.ReadFrameCount);
            byte[] window = input.AsSpan((int)step.ReadOffset(layout), (int)step.ReadLength(layout)).ToArray();
            stream.ProtectStep(window, step);
            var changed = new ObjectPatch(
                step.ChangeOffset(layout),
                window.AsMemory((int)((step.ChangeFirstFrame - step.ReadFirstFrame) * layout.BlockAlign), (int)step.ChangeLength(layout)));
            ObjectPatch.ApplyTo(output, 0, [changed]);
            changedEnd += step.ChangeFrameCount;
            steps++;
        }

        Assert.Equal(wholeResult.PatchStart + wholeResult.PatchLength, changedEnd);
        Assert.Equal(wholeResult, stream.Result);
        Assert.True(expected.AsSpan().SequenceEqual(output), $"the streamed output ({steps} steps) differs from the whole-file output");
        Assert.False(layout.FrameCount > 0 && input.AsSpan().SequenceEqual(output), "nothing changed");
        return output;
    }
}
