using PosCuda.Shared.Analysis;

namespace PosCuda.Shared.Tests.Analysis;

public class SignalMetricsTests
{
    private static double[] Sine(int n, double hz, int rate = 8000, double amplitude = 0.5)
        => [.. Enumerable.Range(0, n).Select(i => amplitude * Math.Sin(2 * Math.PI * hz * i / rate))];

    private static double[] Noise(int n, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5)];
    }

    [Fact]
    public void Snr_GainOfNineTenths_IsExactlyTwentyDb()
    {
        double[] x = Sine(8000, 440);
        double[] y = [.. x.Select(v => 0.9 * v)];

        // e = -0.1 x, so sum x^2 / sum e^2 = 100.
        Assert.Equal(20.0, SignalMetrics.Snr(x, y), 9);
    }

    [Fact]
    public void Snr_Identical_IsPositiveInfinity()
    {
        double[] x = Sine(100, 440);
        Assert.Equal(double.PositiveInfinity, SignalMetrics.Snr(x, x));
    }

    [Fact]
    public void SegmentalSnr_GainChange_IsTwentyDbInEveryFrame()
    {
        double[] x = Sine(1000, 300);
        double[] y = [.. x.Select(v => 0.9 * v)];
        Assert.Equal(20.0, SignalMetrics.SegmentalSnr(x, y, 160), 9);
    }

    [Fact]
    public void SegmentalSnr_OneCleanFrameOneChanged_AveragesTheClampedFrames()
    {
        // Frame 1 unchanged (35 dB by the clamp), frame 2 at 0.9 gain (20 dB): mean 27.5 dB.
        double[] x = Sine(320, 300);
        double[] y = [.. x.Select((v, i) => i < 160 ? v : 0.9 * v)];
        Assert.Equal(27.5, SignalMetrics.SegmentalSnr(x, y, 160), 9);
    }

    [Fact]
    public void SegmentalSnr_NoiseFarAboveSignal_ClampsAtMinusTen()
    {
        double[] x = Sine(160, 300, amplitude: 0.001);
        double[] y = [.. x.Select(v => v + 0.9)];
        Assert.Equal(SignalMetrics.SegmentalFloorDb, SignalMetrics.SegmentalSnr(x, y, 160), 9);
    }

    [Fact]
    public void ChangedSpan_TwoChangedSamples_SpansFromFirstToLast()
    {
        double[] x = Sine(100, 300);
        double[] y = (double[])x.Clone();
        y[10] += 0.1;
        y[42] -= 0.1;
        Assert.Equal((10, 43), SignalMetrics.ChangedSpan(x, y));
        Assert.Null(SignalMetrics.ChangedSpan(x, x));
    }

    [Fact]
    public void LogSpectralDistance_GainChange_IsTwentyLogOfTheGainInEveryBin()
    {
        double[] x = Noise(4000, 1);
        double[] y = [.. x.Select(v => 0.9 * v)];
        var spectrogram = new PowerSpectrogram(200, 80, 256);
        int frames = spectrogram.FrameCount(x.Length);

        // Every bin's power scales by 0.81: 10 log10(1/0.81) = 0.91515 dB in every bin of every frame.
        Assert.Equal(-20 * Math.Log10(0.9), SignalMetrics.LogSpectralDistance(spectrogram, x, y, 0, frames), 6);
        Assert.Equal(0, SignalMetrics.LogSpectralDistance(spectrogram, x, x, 0, frames));
    }

    [Fact]
    public void RmsDbfs_FullScaleSine_IsMinusThreeDb()
    {
        Assert.Equal(-3.0103, SignalMetrics.RmsDbfs(Sine(8000, 1000, amplitude: 1)), 3);
        Assert.Equal(double.NegativeInfinity, SignalMetrics.RmsDbfs(new double[10]));
    }
}
