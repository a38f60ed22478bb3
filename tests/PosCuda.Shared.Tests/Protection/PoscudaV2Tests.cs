using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PosCuda.Shared.Audio;
using PosCuda.Shared.Protection;
using PosCuda.Shared.Tests.Audio;
using PosCuda.Testing.Audio;

namespace PosCuda.Shared.Tests.Protection;

/// <summary>poscuda-v2's parts (FFT, water level, parameters) and its promises: byte-exact outside the samples, the energy budget, the cue throughout a long clip.</summary>
public sealed class PoscudaV2Tests
{
    private static readonly byte[] s_secret = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(256)]
    [InlineData(2048)]
    public void Transform_RandomSignal_MatchesANaiveDftAndInvertsBack(int length)
    {
        var random = new Random(length);
        double[] re = Enumerable.Range(0, length).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] im = Enumerable.Range(0, length).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] re0 = (double[])re.Clone();
        double[] im0 = (double[])im.Clone();
        var fft = new Radix2Fft(length);

        fft.Transform(re, im, inverse: false);

        for (int k = 0; k < length; k += Math.Max(1, length / 16))
        {
            Complex sum = Complex.Zero;
            for (int n = 0; n < length; n++)
            {
                sum += new Complex(re0[n], im0[n]) * Complex.FromPolarCoordinates(1, -2 * Math.PI * k * n / length);
            }

            Assert.Equal(sum.Real, re[k], 1e-9);
            Assert.Equal(sum.Imaginary, im[k], 1e-9);
        }

        fft.Transform(re, im, inverse: true);
        for (int n = 0; n < length; n++)
        {
            Assert.Equal(re0[n], re[n], 1e-12);
            Assert.Equal(im0[n], im[n], 1e-12);
        }
    }

    [Fact]
    public void Radix2Fft_NotAPowerOfTwo_IsRefused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new Radix2Fft(12));

    [Fact]
    public void WaterLevel_HandComputedCase()
    {
        // sum min(v, 3) over {10, 1, 3, 2} = 1 + 2 + 3 + 3 = 9.
        Assert.Equal(3.0, SpectralCodeFilter.WaterLevel([10, 1, 3, 2], 9));

        // Everything fits: no level.
        Assert.Equal(double.PositiveInfinity, SpectralCodeFilter.WaterLevel([1, 2], 4));

        // Exactly fits: the level is the largest value.
        Assert.Equal(2.0, SpectralCodeFilter.WaterLevel([1, 2], 3));

        // Nothing fits: an equal share.
        Assert.Equal(0.5, SpectralCodeFilter.WaterLevel([4, 4], 1));
    }

    [Theory]
    [InlineData(8000, 256)]
    [InlineData(16000, 512)]
    [InlineData(22050, 1024)]
    [InlineData(44100, 2048)]
    [InlineData(48000, 2048)]
    [InlineData(96000, 4096)]
    [InlineData(1, 2)]
    public void FrameLengthFor_IsTheSmallestPowerOfTwoOfAtLeast32Ms(int rate, int length)
        => Assert.Equal(length, SpectralCodeFilter.FrameLengthFor(rate));

    [Fact]
    public void SpectralCodeParameters_TextRoundTripsAndDefaultsFromEmpty()
    {
        var custom = new SpectralCodeParameters(24, 6, 100.5, 7000, 18.25, 0.9);

        Assert.Equal(custom, SpectralCodeParameters.Parse(custom.ToText()));
        Assert.Equal("slots=8;weight=4;fmin=0;fmax=4000;snr=21;depth=0.99", SpectralCodeParameters.Default.ToText());
        Assert.Equal(SpectralCodeParameters.Default, SpectralCodeParameters.Parse(""));
        Assert.Throws<FormatException>(() => SpectralCodeParameters.Parse("slots"));
    }

    [Theory]
    [InlineData(1, 0, 300, 3800, 21, 0.99, "slots")]
    [InlineData(16, 16, 300, 3800, 21, 0.99, "weight")]
    [InlineData(16, 8, -1, 3800, 21, 0.99, "minFrequency")]
    [InlineData(16, 8, 300, 300, 21, 0.99, "maxFrequency")]
    [InlineData(16, 8, 300, 3800, double.NaN, 0.99, "targetSnr")]
    [InlineData(16, 8, 300, 3800, 21, 0, "depth")]
    [InlineData(16, 8, 300, 3800, 21, 1.5, "depth")]
    public void SpectralCodeParameters_OutOfRange_NamesTheParameter(int slots, int weight, double fmin, double fmax, double snr, double depth, string name)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new SpectralCodeParameters(slots, weight, fmin, fmax, snr, depth));
        Assert.Equal(name, e.ParamName);
    }

    [Property(Arbitrary = [typeof(CodecArbitraries)], MaxTest = 120)]
    public Property Protect_AnyLayout_ChangesOnlySampleBytesClipsNothingAndKeepsTheBudget(CodecCase @case, PositiveInt labelSeed)
    {
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName);
        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(s_secret, $"class-{labelSeed.Get % 5}", parameters);
        byte[] input = @case.Builder.Build(out int dataOffset);
        byte[] output = (byte[])input.Clone();

        ProtectResult result = PoscudaV2.Instance.Protect(output, patch, parameters, "case.wav");

        WavLayout layout = WavReader.ReadLayout(input, "case.wav");
        long dataEnd = dataOffset + layout.DataLength;
        bool outsideUntouched = input.AsSpan(0, dataOffset).SequenceEqual(output.AsSpan(0, dataOffset))
            && input.AsSpan((int)dataEnd).SequenceEqual(output.AsSpan((int)dataEnd));

        // Per channel, the change's energy stays within the budget (target SNR, less 0.5 dB for quantisation
        // and the STFT's edges), wherever there is enough signal for the budget to bind.
        bool withinBudget = true;
        var x = new double[layout.FrameCount];
        var y = new double[layout.FrameCount];
        for (int channel = 0; channel < layout.Channels; channel++)
        {
            SampleCodec.Decode(input, layout, channel, 0, x);
            SampleCodec.Decode(output, layout, channel, 0, y);
            double signal = 0, change = 0;
            for (int i = 0; i < x.Length; i++)
            {
                signal += x[i] * x[i];
                change += (y[i] - x[i]) * (y[i] - x[i]);
            }

            double lsb = layout.Format == SampleFormat.IeeeFloat ? 0 : Math.Pow(2, -8 * layout.ContainerBytes) * 2;
            withinBudget &= change <= (signal * Math.Pow(10, -(21 - 0.5) / 10)) + (x.Length * lsb * lsb);
        }

        return (outsideUntouched && result.ClippedSamples == 0 && withinBudget && result.PatchLength == layout.FrameCount)
            .Label($"{@case} untouched={outsideUntouched} clipped={result.ClippedSamples} budget={withinBudget}");
    }

    [Fact]
    public void Protect_TenMinuteRecording_CarriesTheCueInEveryCrop()
    {
        // Ten minutes of 8 kHz speech-shaped noise (low-passed noise in 0.35 s bursts with pauses between them, over a
        // quiet noise floor); every 1-second crop, anywhere, keeps the coded slots attenuated.
        const int Rate = 8000;
        const int Frames = 10 * 60 * Rate;
        var samples = new double[Frames];
        var random = new Random(7);
        double lowPassed = 0;
        for (int i = 0; i < Frames; i++)
        {
            lowPassed = (0.9 * lowPassed) + (0.1 * (random.NextDouble() - 0.5));
            double envelope = Math.Pow(Math.Max(0, Math.Sin(2 * Math.PI * i / (Rate * 0.7))), 2);
            samples[i] = (4 * lowPassed * envelope) + (0.05 * (random.NextDouble() - 0.5));
        }

        byte[] input = new WavBuilder { SampleRate = Rate }.WithSamples(samples).Build();
        byte[] output = (byte[])input.Clone();
        var parameters = new ProtectionParameters(spec: PoscudaV2.SpecName);
        ClassPatch patch = PoscudaV2.Instance.DeriveClassPatch(s_secret, "speech", parameters);

        PoscudaV2.Instance.Protect(output, patch, parameters, "long.wav");

        WavLayout layout = WavReader.ReadLayout(input, "long.wav");
        var x = new double[Frames];
        var y = new double[Frames];
        SampleCodec.Decode(input, layout, 0, 0, x);
        SampleCodec.Decode(output, layout, 0, 0, y);
        SpectralCodeParameters code = parameters.Code;
        double low = MelScale.ToMel(code.MinFrequency);
        double high = MelScale.ToMel(Math.Min(code.MaxFrequency, Rate / 2.0));
        bool[] coded = new bool[code.Slots];
        foreach (int slot in patch.Code)
        {
            coded[slot] = true;
        }

        var crops = new List<int> { 0, Frames - Rate };
        for (int i = 0; i < 12; i++)
        {
            crops.Add(random.Next(0, Frames - Rate));
        }

        var depths = new List<double>();
        foreach (int start in crops)
        {
            // The mean change in dB (what a learner on log spectra sees) over the crop's 32 ms frames and probe
            // frequencies every 20 Hz, by a direct DFT of each Hann-windowed frame.
            double codedDb = 0, freeDb = 0;
            int codedCount = 0, freeCount = 0;
            for (int f = 60; f < 3960; f += 20)
            {
                int slot = (int)Math.Floor(code.Slots * (MelScale.ToMel(f) - low) / (high - low));
                double edge = Math.Min(Math.Abs(SlotEdge(slot, code.Slots, low, high) - f), Math.Abs(SlotEdge(slot + 1, code.Slots, low, high) - f));
                if (edge < 60)
                {
                    continue; // near a slot edge the attenuation rolls off; judge slot interiors only
                }

                for (int frame = start; frame + 256 <= start + Rate; frame += 256)
                {
                    double db = 10 * Math.Log10(BinEnergy(y, frame, 256, Rate, f) / BinEnergy(x, frame, 256, Rate, f));
                    if (coded[slot])
                    {
                        codedDb += db;
                        codedCount++;
                    }
                    else
                    {
                        freeDb += db;
                        freeCount++;
                    }
                }
            }

            codedDb /= codedCount;
            freeDb /= freeCount;
            Assert.True(codedDb < -6, $"crop at {start}: coded slots only {codedDb:F1} dB");
            depths.Add(codedDb);
            Assert.True(Math.Abs(freeDb) < 0.5, $"crop at {start}: uncoded slots changed by {freeDb:F1} dB");
        }

        // The first second and the last are protected alike (the cue does not fade after the first window).
        Assert.True(Math.Abs(depths[0] - depths[1]) < 2, $"first second {depths[0]:F1} dB, last {depths[1]:F1} dB");
    }

    internal static double SlotEdge(int slot, int slots, double melLow, double melHigh)
    {
        return MelScale.ToHertz(melLow + ((melHigh - melLow) * slot / slots));
    }

    internal static double BinEnergy(double[] signal, int start, int length, int rate, double frequency)
    {
        double re = 0, im = 0;
        for (int n = 0; n < length; n++)
        {
            double w = 0.5 - (0.5 * Math.Cos(2 * Math.PI * n / length));
            double angle = 2 * Math.PI * frequency * n / rate;
            re += w * signal[start + n] * Math.Cos(angle);
            im -= w * signal[start + n] * Math.Sin(angle);
        }

        return (re * re) + (im * im);
    }
}
