using PosCuda.Shared.Analysis;
using ScottPlot;

namespace PosCuda.Coordinator.Quality;

/// <summary>Draws the quality figures as PNG files (ScottPlot): per-clip SNR distributions and, per class, the mel
/// spectrogram of a clean clip beside its protected copy.</summary>
public static class QualityPlots
{
    /// <summary>Most classes drawn as spectrogram pairs.</summary>
    public const int MaxSpectrogramClasses = 20;

    private const int Width = 1200;
    private const int Height = 450;

    /// <summary>Writes every plot into <paramref name="folder"/> and returns the files written.</summary>
    public static IReadOnlyList<string> Write(string folder, QualityAnalysis.Outcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        string histogram = Path.Combine(folder, "snr-distribution.png");
        WriteHistograms(histogram, outcome);
        written.Add(histogram);
        int index = 0;
        foreach ((string label, ClipComparer.Result example) in outcome.Examples.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            string path = Path.Combine(folder, $"spectrogram-{index++:D2}-{SafeName(label)}.png");
            WriteSpectrogramPair(path, label, example, outcome.AnalysisRate);
            written.Add(path);
        }

        return written;
    }

    private static void WriteHistograms(string path, QualityAnalysis.Outcome outcome)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        DrawHistogram(multiplot.GetPlot(0), outcome.Overall.Snr, "Whole-clip SNR per clip");
        DrawHistogram(multiplot.GetPlot(1), outcome.PatchSnrPerClip, "Segmental SNR over the patch per clip");
        multiplot.SavePng(path, Width, Height);
    }

    private static void DrawHistogram(Plot plot, StreamingStatistic statistic, string title)
    {
        plot.Title(title);
        plot.XLabel("dB");
        plot.YLabel("clips");
        if (statistic.Count == 0)
        {
            return;
        }

        // Re-bin the fixed 0.25 dB histogram into 1 dB bars over the observed range.
        ReadOnlySpan<long> bins = statistic.Bins;
        int per = Math.Max(1, (int)Math.Round(1 / statistic.BinWidth));
        var positions = new List<double>();
        var counts = new List<double>();
        for (int i = 0; i < bins.Length; i += per)
        {
            double left = statistic.Low + (i * statistic.BinWidth);
            if (left + (per * statistic.BinWidth) < statistic.Min || left > statistic.Max)
            {
                continue;
            }

            long sum = 0;
            for (int j = i; j < Math.Min(bins.Length, i + per); j++)
            {
                sum += bins[j];
            }

            positions.Add(left + (per * statistic.BinWidth / 2));
            counts.Add(sum);
        }

        var bars = plot.Add.Bars(positions.ToArray(), counts.ToArray());
        foreach (Bar bar in bars.Bars)
        {
            bar.Size = per * statistic.BinWidth * 0.9;
        }

        plot.Axes.Margins(bottom: 0);
    }

    private static void WriteSpectrogramPair(string path, string label, ClipComparer.Result example, int rate)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var settings = new LogMelSettings(rate);
        double hopSeconds = (double)settings.Hop / rate;
        ClipComparison c = example.Comparison;
        DrawSpectrogram(multiplot.GetPlot(0), example.CleanLogMel, settings.Bands, hopSeconds, $"class {label}: clean {c.Key}", c, example.SampleRate);
        DrawSpectrogram(multiplot.GetPlot(1), example.ProtectedLogMel, settings.Bands, hopSeconds, $"class {label}: protected", c, example.SampleRate);
        multiplot.SavePng(path, Width, Height);
    }

    private static void DrawSpectrogram(Plot plot, double[] logMel, int bands, double hopSeconds, string title, ClipComparison comparison, int clipRate)
    {
        int frames = logMel.Length / bands;
        var intensities = new double[bands, frames];
        for (int f = 0; f < frames; f++)
        {
            for (int b = 0; b < bands; b++)
            {
                // Natural log of power to dB; low bands at the bottom.
                intensities[bands - 1 - b, f] = 10 / Math.Log(10) * logMel[(f * bands) + b];
            }
        }

        var heatmap = plot.Add.Heatmap(intensities);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.Extent = new CoordinateRect(0, Math.Max(hopSeconds, frames * hopSeconds), 0, bands);
        plot.Add.ColorBar(heatmap).Label = "dB";
        if (comparison.Changed)
        {
            plot.Add.VerticalLine((double)comparison.SpanStart / clipRate, 1, Colors.Red);
            plot.Add.VerticalLine((double)(comparison.SpanStart + comparison.SpanLength) / clipRate, 1, Colors.Red);
        }

        plot.Title(title);
        plot.XLabel("time (s); red lines: changed span");
        plot.YLabel("mel band");
    }

    private static string SafeName(string label)
    {
        var chars = label.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_').Take(40).ToArray();
        return chars.Length == 0 ? "empty" : new string(chars);
    }
}
