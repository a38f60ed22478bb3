using System.Globalization;
using System.Text.Json;
using PosCuda.Coordinator.Cli;

namespace PosCuda.Coordinator.Audit;

/// <summary>Writes an audit outcome as a table, as JSON, and as a one-line verdict.</summary>
public static class AuditReport
{
    /// <summary>Where the neural-learner results are.</summary>
    public const string NeuralResults = "docs/efficacy.md";

    /// <summary>Writes the table: one row per learner and attack.</summary>
    public static void WriteTable(TextWriter writer, AuditOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(outcome);
        writer.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{outcome.TrainClips} training / {outcome.TestClips} test clips, {outcome.Classes} classes (chance {outcome.Chance:P1}), split {outcome.Split}"));
        writer.WriteLine("learner   attack    clean-trained  protected-trained  protected-trained   seconds");
        writer.WriteLine("                    on clean test  on clean test      on protected test");
        foreach (AuditRow row in outcome.Rows)
        {
            writer.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{row.Learner,-9} {row.Attack,-9} {row.CleanTrainedOnClean,13:P1}  {row.ProtectedTrainedOnClean,17:P1}  {row.ProtectedTrainedOnProtected,17:P1}  {row.Seconds,8:F1}"));
        }
    }

    /// <summary>The one-line verdict: the best protected-trained accuracy on clean test against the clean-trained one,
    /// with chance, and what the probes are not.</summary>
    public static string Verdict(AuditOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Rows.Count == 0)
        {
            return "verdict: no probe was trained.";
        }

        AuditRow best = outcome.Rows.MaxBy(r => r.ProtectedTrainedOnClean)!;
        AuditRow? baseline = outcome.Rows.Where(r => r.Attack == "none").MaxBy(r => r.CleanTrainedOnClean)
            ?? outcome.Rows.MaxBy(r => r.CleanTrainedOnClean);
        double clean = baseline!.CleanTrainedOnClean;
        double chance = outcome.Chance;

        // Share of the clean-trained gain over chance that training on the protected copy keeps.
        double kept = clean > chance ? (best.ProtectedTrainedOnClean - chance) / (clean - chance) : double.NaN;
        string reading = kept switch
        {
            double.NaN => "the clean-trained probes do not beat chance, so this audit cannot tell",
            < 0.25 => "these probes learn little of the real task from the protected copy",
            < 0.75 => "these probes still learn part of the real task from the protected copy",
            _ => "the protection does not stop these probes from learning the real task",
        };
        return string.Create(
            CultureInfo.InvariantCulture,
            $"verdict: protected-trained probes reach at best {best.ProtectedTrainedOnClean:P1} on clean test ({best.Learner}, attack {best.Attack}) vs {clean:P1} clean-trained ({baseline.Learner}, no attack; chance {chance:P1}): {reading}. Probes are gradient-boosted trees and a linear model, not neural networks: see {NeuralResults} for neural learners.");
    }

    /// <summary>Writes the JSON report.</summary>
    public static void WriteJson(Utf8JsonWriter json, AuditOutcome outcome, string protectedLocation, string cleanLocation, string labels, IEnumerable<string> learnerDescriptions, double elapsedSeconds)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(learnerDescriptions);
        json.WriteStartObject();
        json.WriteString("format", "poscuda-audit/1");
        json.WriteString("protected", protectedLocation);
        json.WriteString("clean", cleanLocation);
        json.WriteString("labels", labels);
        json.WriteString("split", outcome.Split);
        json.WriteNumber("analysisRate", outcome.AnalysisRate);
        json.WriteString("features", outcome.FeatureDefinition);
        json.WriteStartArray("learners");
        foreach (string description in learnerDescriptions)
        {
            json.WriteStringValue(description);
        }

        json.WriteEndArray();
        json.WriteNumber("classes", outcome.Classes);
        json.WriteNumber("chance", Math.Round(outcome.Chance, 4));
        json.WriteNumber("trainClips", outcome.TrainClips);
        json.WriteNumber("testClips", outcome.TestClips);
        json.WriteStartArray("rows");
        foreach (AuditRow row in outcome.Rows)
        {
            json.WriteStartObject();
            json.WriteString("learner", row.Learner);
            json.WriteString("attack", row.Attack);
            json.WriteNumber("cleanTrainedOnCleanTest", Math.Round(row.CleanTrainedOnClean, 4));
            json.WriteNumber("protectedTrainedOnCleanTest", Math.Round(row.ProtectedTrainedOnClean, 4));
            json.WriteNumber("protectedTrainedOnProtectedTest", Math.Round(row.ProtectedTrainedOnProtected, 4));
            json.WriteNumber("seconds", Math.Round(row.Seconds, 2));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteString("verdict", Verdict(outcome));
        json.WriteNumber("featureSeconds", Math.Round(outcome.FeatureSeconds, 2));
        json.WriteNumber("trainingSeconds", Math.Round(outcome.TrainingSeconds, 2));
        json.WriteNumber("featureTablesFromCache", outcome.CachedTables);
        json.WriteNumber("featureTablesComputed", outcome.ComputedTables);
        json.WriteNumber("elapsedSeconds", Math.Round(elapsedSeconds, 2));
        ReportFile.WriteFailures(json, outcome.Failures);
        json.WriteEndObject();
    }
}
