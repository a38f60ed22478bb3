namespace PosCuda.Coordinator.Audit;

/// <summary>What an audit found.</summary>
/// <param name="Split">The split rule used.</param>
/// <param name="AnalysisRate">The feature analysis rate.</param>
/// <param name="FeatureDefinition">The feature definition (<see cref="ClipFeatureExtractor.Describe"/>).</param>
/// <param name="Classes">Classes in the training split.</param>
/// <param name="TrainClips">Training clips (pairs with features on both sides).</param>
/// <param name="TestClips">Test clips.</param>
/// <param name="Rows">One row per learner and attack.</param>
/// <param name="Failures">Objects left out, with the reason.</param>
/// <param name="FeatureSeconds">Time spent reading clips and computing (or loading) features.</param>
/// <param name="TrainingSeconds">Time spent training and testing.</param>
/// <param name="CachedTables">Feature tables read from the cache.</param>
/// <param name="ComputedTables">Feature tables computed.</param>
public sealed record AuditOutcome(
    string Split,
    int AnalysisRate,
    string FeatureDefinition,
    int Classes,
    int TrainClips,
    int TestClips,
    IReadOnlyList<AuditRow> Rows,
    IReadOnlyList<(string Key, string Reason)> Failures,
    double FeatureSeconds,
    double TrainingSeconds,
    int CachedTables,
    int ComputedTables)
{
    /// <summary>The accuracy of guessing: 1 / classes.</summary>
    public double Chance => Classes == 0 ? double.NaN : 1.0 / Classes;
}
