using PosCuda.Shared.Analysis;
using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Tests.Analysis;

public class LogMelAnalyzerTests
{
    [Fact]
    public void LogMel_Sine_PeaksInTheBandAroundItsFrequency()
    {
        var settings = new LogMelSettings(8000);
        var analyzer = new LogMelAnalyzer(settings);
        double[] x = [.. Enumerable.Range(0, 8000).Select(i => 0.5 * Math.Sin(2 * Math.PI * 1000 * i / 8000.0))];
        double[] logMel = analyzer.LogMel(x, out int frames);

        Assert.Equal(1 + ((8000 - 200) / 80), frames);
        int peak = 0;
        for (int b = 1; b < settings.Bands; b++)
        {
            peak = logMel[(10 * settings.Bands) + b] > logMel[(10 * settings.Bands) + peak] ? b : peak;
        }

        // Band centres are evenly spaced in mel between 20 Hz and 4 kHz; 1 kHz sits near the band whose centre is closest.
        double step = (MelScale.ToMel(4000) - MelScale.ToMel(20)) / (settings.Bands + 1);
        double centre = MelScale.ToHertz(MelScale.ToMel(20) + ((peak + 1) * step));
        Assert.InRange(centre, 900, 1100);
    }

    [Fact]
    public void Mfcc_ConstantLogMel_HasOnlyTheZerothCoefficient()
    {
        double[] logMel = [.. Enumerable.Repeat(2.0, 40)];
        var mfcc = new double[13];
        LogMelAnalyzer.Mfcc(logMel, mfcc);

        // Orthonormal DCT-II of a constant c over n bins: c * sqrt(n) at k = 0, 0 elsewhere.
        Assert.Equal(2 * Math.Sqrt(40), mfcc[0], 9);
        Assert.All(mfcc[1..], c => Assert.Equal(0, c, 9));
    }

    [Fact]
    public void Resample_DoubleRate_KeepsLengthRatioAndLevel()
    {
        double[] x = [.. Enumerable.Range(0, 8000).Select(i => 0.5 * Math.Sin(2 * Math.PI * 440 * i / 8000.0))];
        double[] y = Resampler.Resample(x, 8000, 16000);

        Assert.Equal(16000, y.Length);
        Assert.Equal(SignalMetrics.RmsDbfs(x.AsSpan(1000, 6000)), SignalMetrics.RmsDbfs(y.AsSpan(2000, 12000)), 0);
    }

    [Fact]
    public void StreamingStatistic_OneToHundred_GivesMeanMedianAndRange()
    {
        var statistic = new StreamingStatistic(0, 200, 1);
        for (int i = 1; i <= 100; i++)
        {
            statistic.Add(i);
        }

        statistic.Add(double.PositiveInfinity);
        Assert.Equal(100, statistic.Count);
        Assert.Equal(1, statistic.NonFinite);
        Assert.Equal(50.5, statistic.Mean, 9);
        Assert.InRange(statistic.Quantile(0.5), 49.5, 51.5);
        Assert.Equal(1, statistic.Min);
        Assert.Equal(100, statistic.Max);
    }
}
