using System.Globalization;
using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Shared.Analysis;

namespace PosCuda.Coordinator.Quality;

/// <summary>Writes a quality outcome as JSON and as a table.</summary>
public static class QualityReport
{
    /// <summary>Writes the JSON report.</summary>
    public static void WriteJson(Utf8JsonWriter json, QualityAnalysis.Outcome outcome, QualitySettings settings, string source, string destination, string labels, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(settings);
        json.WriteStartObject();
        json.WriteString("format", "poscuda-quality/1");
        json.WriteString("source", source);
        json.WriteString("destination", destination);
        json.WriteString("labels", labels);
        json.WriteNumber("analysisRate", outcome.AnalysisRate);
        json.WriteString("logMel", new LogMelSettings(outcome.AnalysisRate).Describe());
        json.WriteNumber("segmentSeconds", settings.SegmentSeconds);
        json.WriteNumber("silenceDbfs", settings.SilenceDbfs);
        json.WriteNumber("silenceBelowClipDb", settings.SilenceBelowClipDb);
        json.WriteNumber("failed", outcome.Failures.Count);
        json.WriteNumber("elapsedSeconds", Math.Round(elapsed.TotalSeconds, 2));
        json.WritePropertyName("overall");
        WriteTally(json, outcome.Overall);
        json.WriteStartObject("classes");
        foreach ((string label, QualityTally tally) in outcome.Classes)
        {
            json.WritePropertyName(label);
            WriteTally(json, tally);
        }

        json.WriteEndObject();
        ReportFile.WriteFailures(json, outcome.Failures);
        json.WriteEndObject();
    }

    /// <summary>Writes a per-class table and the overall row.</summary>
    public static void WriteTable(TextWriter writer, QualityAnalysis.Outcome outcome)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(outcome);
        writer.WriteLine("class        clips  SNR dB  segSNR patch  segSNR clip  LSD clip  LSD patch  clipped  silent patch  log-mel FD");
        foreach ((string label, QualityTally tally) in outcome.Classes)
        {
            writer.WriteLine(Row(label, tally));
        }

        writer.WriteLine(Row("all", outcome.Overall));
    }

    private static string Row(string label, QualityTally t) => string.Create(
        CultureInfo.InvariantCulture,
        $"{Truncate(label),-12} {t.Clips,5}  {t.Snr.Mean,6:F1}  {t.SegmentalSnrPatch.Mean,12:F1}  {t.SegmentalSnrClip.Mean,11:F1}  {t.LsdClip.Mean,8:F2}  {t.LsdPatch.Mean,9:F2}  {t.NewlyClipped,7}  {t.SilentPatchFraction * 100,11:F1}%  {t.LogMelFrechet(),10:F3}");

    private static string Truncate(string label) => label.Length <= 12 ? label : label[..11] + "~";

    private static void WriteTally(Utf8JsonWriter json, QualityTally t)
    {
        json.WriteStartObject();
        json.WriteNumber("clips", t.Clips);
        json.WriteNumber("unchanged", t.Unchanged);
        WriteStatistic(json, "snrDb", t.Snr);
        WriteStatistic(json, "segmentalSnrPatchDb", t.SegmentalSnrPatch);
        WriteStatistic(json, "segmentalSnrClipDb", t.SegmentalSnrClip);
        WriteStatistic(json, "lsdClipDb", t.LsdClip);
        WriteStatistic(json, "lsdPatchDb", t.LsdPatch);
        json.WriteNumber("newlyClippedSamples", t.NewlyClipped);
        json.WriteNumber("clipsWithClipping", t.ClipsWithClipping);
        json.WriteNumber("silentPatchClips", t.SilentPatches);
        json.WriteNumber("silentPatchBelowLevel", t.QuietByLevel);
        json.WriteNumber("silentPatchBelowClip", t.QuietByContrast);
        WriteNumber(json, "silentPatchFraction", t.SilentPatchFraction);
        WriteStatistic(json, "patchLevelDbfs", t.PatchLevel);

        // How the silent-patch figure moves with the level threshold (the contrast test left out).
        json.WriteStartObject("patchLevelBelowDbfs");
        foreach (int threshold in new[] { -60, -50, -45, -40, -35, -30 })
        {
            WriteNumber(json, threshold.ToString(CultureInfo.InvariantCulture), t.PatchLevel.FractionBelow(threshold));
        }

        json.WriteEndObject();
        WriteNumber(json, "logMelFrechetDistance", t.LogMelFrechet());
        json.WriteNumber("cleanLogMelFrames", t.CleanLogMel.Count);
        json.WriteNumber("protectedLogMelFrames", t.ProtectedLogMel.Count);
        json.WriteEndObject();
    }

    private static void WriteStatistic(Utf8JsonWriter json, string name, StreamingStatistic s)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", s.Count);
        WriteNumber(json, "mean", s.Mean);
        WriteNumber(json, "std", s.StandardDeviation);
        WriteNumber(json, "min", s.Count == 0 ? double.NaN : s.Min);
        WriteNumber(json, "p5", s.Quantile(0.05));
        WriteNumber(json, "median", s.Quantile(0.5));
        WriteNumber(json, "p95", s.Quantile(0.95));
        WriteNumber(json, "max", s.Count == 0 ? double.NaN : s.Max);
        json.WriteEndObject();
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 4));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
