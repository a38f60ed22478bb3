using PosCuda.Coordinator.Audit;
using PosCuda.Coordinator.Datasets;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Testing;

namespace PosCuda.Pipeline.Tests.Audit;

public class AuditRunnerTests
{
    private const int PerClass = 36;

    [Fact]
    public async Task RunAsync_PlantedClassShortcut_ProbesFallToChanceOnCleanTest()
    {
        // Every protected clip carries a steady 3 kHz tone whose level says its class (class 0: none): a shortcut that
        // is easier than the jittered pitch and that clean audio does not have, so on clean audio everything looks
        // like class 0.
        double[] level = [0, 0.1, 0.2, 0.4];
        AuditOutcome outcome = await RunAsync((c, x) => [.. x.Select((v, i) => v + (level[c] * Math.Sin(2 * Math.PI * 3000 * i / SyntheticSpeech.Rate)))]);

        Assert.Equal(0.25, outcome.Chance);
        foreach (AuditRow row in outcome.Rows)
        {
            Assert.True(row.CleanTrainedOnClean >= 0.8, $"{row.Learner}: clean-trained {row.CleanTrainedOnClean}");
            Assert.True(row.ProtectedTrainedOnProtected >= 0.9, $"{row.Learner}: protected-trained on protected {row.ProtectedTrainedOnProtected}");
            Assert.True(row.ProtectedTrainedOnClean <= outcome.Chance + 0.2, $"{row.Learner}: protected-trained on clean {row.ProtectedTrainedOnClean}");
        }

        Assert.Contains("learn little of the real task", AuditReport.Verdict(outcome), StringComparison.Ordinal);
        Assert.Contains("not neural networks", AuditReport.Verdict(outcome), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NeutralGainChange_AccuracyStaysNearClean()
    {
        AuditOutcome outcome = await RunAsync((_, x) => [.. x.Select(v => 0.97 * v)]);

        Assert.Equal(2, outcome.Rows.Count);
        foreach (AuditRow row in outcome.Rows)
        {
            Assert.True(row.CleanTrainedOnClean >= 0.8, $"{row.Learner}: clean-trained {row.CleanTrainedOnClean}");
            Assert.True(row.ProtectedTrainedOnClean >= row.CleanTrainedOnClean - 0.1, $"{row.Learner}: protected-trained {row.ProtectedTrainedOnClean} vs {row.CleanTrainedOnClean}");
        }

        Assert.Contains("does not stop", AuditReport.Verdict(outcome), StringComparison.Ordinal);
    }

    private static async Task<AuditOutcome> RunAsync(Func<int, double[], double[]> protect)
    {
        using var temp = new TempDirectory();
        SyntheticSpeech.Write(temp["clean"], PerClass, (_, x) => x);
        SyntheticSpeech.Write(temp["protected"], PerClass, protect);
        await using var clean = new FileObjectStore(temp["clean"]);
        await using var protectedStore = new FileObjectStore(temp["protected"]);
        LabelRule labels = LabelRule.Parse("dir");
        var settings = new AuditRunner.Settings(
            protectedStore,
            clean,
            await DatasetListing.ReadAsync(protectedStore, labels, CancellationToken.None),
            await DatasetListing.ReadAsync(clean, labels, CancellationToken.None),
            SplitRule.Parse("random:1:0.25"),
            [ProbeLearner.Parse("lightgbm"), ProbeLearner.Parse("maxent")],
            ["none"],
            Seed: 1,
            CacheFolder: null,
            AnalysisRate: null,
            Concurrency: 2);
        return await new AuditRunner(TextWriter.Null).RunAsync(settings, CancellationToken.None);
    }
}
