using System.Diagnostics;
using System.Globalization;
using PosCuda.Coordinator.Datasets;
using PosCuda.Coordinator.Quality;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Audit;

/// <summary>Trains probe learners on the protected training split (and, for the baseline, on the clean one), under each
/// attack, and tests them on the clean and protected test splits.</summary>
/// <remarks>
/// Objects pair by relative key; one without a counterpart, or unreadable on either side, is left out and reported.
/// Features of the whole clean and protected sets are computed first; then, one attack at a time, those of the attacked
/// training clips of both sets, which are dropped once that attack's rows are done, so memory holds four tables at most.
/// </remarks>
public sealed class AuditRunner
{
    private readonly TextWriter _log;

    /// <summary>Creates a runner that reports its stages to <paramref name="log"/>.</summary>
    public AuditRunner(TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        _log = log;
    }

    /// <summary>What to audit and how.</summary>
    /// <param name="Protected">The protected dataset's store.</param>
    /// <param name="Clean">The clean dataset's store.</param>
    /// <param name="ProtectedListing">The protected objects and their labels.</param>
    /// <param name="CleanListing">The clean objects and their labels.</param>
    /// <param name="Split">The split rule; null for the default (<see cref="SplitRule.Default"/>).</param>
    /// <param name="Learners">The probe learners.</param>
    /// <param name="Attacks">Attack names (see <see cref="AudioAttack.Names"/>).</param>
    /// <param name="Seed">Seeds the attacks and the learners.</param>
    /// <param name="CacheFolder">Where feature tables are cached; null for no cache.</param>
    /// <param name="AnalysisRate">The feature analysis rate; null for the rate of the first clean clip in key order.</param>
    /// <param name="Concurrency">Clips in flight.</param>
    public sealed record Settings(
        IObjectStore Protected,
        IObjectStore Clean,
        DatasetListing ProtectedListing,
        DatasetListing CleanListing,
        SplitRule? Split,
        IReadOnlyList<ProbeLearner> Learners,
        IReadOnlyList<string> Attacks,
        int Seed,
        string? CacheFolder,
        int? AnalysisRate,
        int Concurrency);

    /// <summary>Runs the audit.</summary>
    public async Task<AuditOutcome> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var failures = new List<(string Key, string Reason)>();
        (List<PlannedObject> train, List<PlannedObject> test, SplitRule split) = Pair(settings, failures);
        int rate = settings.AnalysisRate ?? await QualityAnalysis.FirstRateAsync(settings.CleanListing, settings.Clean, cancellationToken).ConfigureAwait(false);
        var cache = new FeatureCache(settings.CacheFolder, rate, settings.Seed);
        var extractorDefinition = new ClipFeatureExtractor(rate).Describe();
        var featureClock = new Stopwatch();
        var trainingClock = new Stopwatch();
        int cached = 0;
        int computed = 0;

        async Task<FeatureTable> TableAsync(IObjectStore store, FeatureRequest request)
        {
            featureClock.Start();
            FeatureTable table = (await cache.GetAsync(store, [request], settings.Concurrency, cancellationToken).ConfigureAwait(false))[0];
            featureClock.Stop();
            cached += table.FromCache ? 1 : 0;
            computed += table.FromCache ? 0 : 1;
            await _log.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"features {request.Name}: {table.Vectors.Count} clips {(table.FromCache ? "from the cache" : "computed")}")).ConfigureAwait(false);
            return table;
        }

        // Requests on the clean store carry the clean objects' sizes and ETags (the cache key is made of them).
        var cleanObjects = settings.CleanListing.Objects.ToDictionary(o => o.Key, StringComparer.Ordinal);
        List<PlannedObject> CleanSide(List<PlannedObject> items) => [.. items.Select(i => cleanObjects[i.Key] with { Label = i.Label })];
        var all = train.Concat(test).ToList();
        FeatureTable cleanAll = await TableAsync(settings.Clean, new FeatureRequest("clean", CleanSide(all), null)).ConfigureAwait(false);
        FeatureTable protectedAll = await TableAsync(settings.Protected, new FeatureRequest("protected", all, null)).ConfigureAwait(false);
        AddFailures(failures, cleanAll, "clean");
        AddFailures(failures, protectedAll, "protected");

        // Only pairs with features on both sides count, so every row sees the same clips.
        bool Usable(PlannedObject item) => cleanAll.Vectors.ContainsKey(item.Key) && protectedAll.Vectors.ContainsKey(item.Key);
        train = train.Where(Usable).ToList();
        test = test.Where(Usable).ToList();
        List<LabelledVector> cleanTest = Vectors(cleanAll, test);
        List<LabelledVector> protectedTest = Vectors(protectedAll, test);
        int classes = train.Select(i => i.Label).Distinct(StringComparer.Ordinal).Count();
        await _log.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture,
            $"split {split.Text}: {train.Count} training and {test.Count} test clips, {classes} classes; features at {rate} Hz")).ConfigureAwait(false);
        if (train.Count == 0 || test.Count == 0)
        {
            throw new InvalidOperationException($"The split '{split.Text}' leaves {train.Count} training and {test.Count} test clips; both must be non-empty.");
        }

        var rows = new List<AuditRow>();
        foreach (string attackName in settings.Attacks)
        {
            AudioAttack? attack = AudioAttack.Parse(attackName);
            List<LabelledVector> cleanTrain;
            List<LabelledVector> protectedTrain;
            if (attack is null)
            {
                cleanTrain = Vectors(cleanAll, train);
                protectedTrain = Vectors(protectedAll, train);
            }
            else
            {
                FeatureTable cleanAttacked = await TableAsync(settings.Clean, new FeatureRequest($"clean/train/{attack.Name}", CleanSide(train), attack)).ConfigureAwait(false);
                FeatureTable protectedAttacked = await TableAsync(settings.Protected, new FeatureRequest($"protected/train/{attack.Name}", train, attack)).ConfigureAwait(false);
                cleanTrain = Vectors(cleanAttacked, train);
                protectedTrain = Vectors(protectedAttacked, train);
            }

            foreach (ProbeLearner learner in settings.Learners)
            {
                var clock = Stopwatch.StartNew();
                trainingClock.Start();
                double cleanTrained = learner.TrainAndTest(cleanTrain, [cleanTest], settings.Seed)[0];
                IReadOnlyList<double> protectedTrained = learner.TrainAndTest(protectedTrain, [cleanTest, protectedTest], settings.Seed);
                trainingClock.Stop();
                var row = new AuditRow(learner.Name, attackName, cleanTrained, protectedTrained[0], protectedTrained[1], clock.Elapsed.TotalSeconds);
                rows.Add(row);
                await _log.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{learner.Name} / {attackName}: clean-trained {row.CleanTrainedOnClean:P1}, protected-trained {row.ProtectedTrainedOnClean:P1} on clean test, {row.ProtectedTrainedOnProtected:P1} on protected test ({row.Seconds:F1} s)")).ConfigureAwait(false);
            }
        }

        failures.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new AuditOutcome(
            split.Text, rate, extractorDefinition, classes, train.Count, test.Count, rows, failures,
            featureClock.Elapsed.TotalSeconds, trainingClock.Elapsed.TotalSeconds, cached, computed);
    }

    private static (List<PlannedObject> Train, List<PlannedObject> Test, SplitRule Split) Pair(Settings settings, List<(string Key, string Reason)> failures)
    {
        var clean = new HashSet<string>(settings.CleanListing.Objects.Select(o => o.Key), StringComparer.Ordinal);
        var paired = new List<PlannedObject>();
        foreach (PlannedObject item in settings.ProtectedListing.Objects)
        {
            if (clean.Remove(item.Key))
            {
                paired.Add(item);
            }
            else
            {
                failures.Add((item.Key, "no clean counterpart"));
            }
        }

        foreach (string key in clean)
        {
            failures.Add((key, "no protected counterpart"));
        }

        foreach ((string key, string reason) in settings.ProtectedListing.Unlabelled)
        {
            failures.Add((key, reason));
        }

        SplitRule split = settings.Split ?? SplitRule.Default(paired.Select(p => p.Key));
        var train = new List<PlannedObject>();
        var test = new List<PlannedObject>();
        foreach (PlannedObject item in paired)
        {
            try
            {
                (split.IsTest(item.Key) ? test : train).Add(item);
            }
            catch (ArgumentException e)
            {
                failures.Add((item.Key, "split: " + e.Message));
            }
        }

        return (train, test, split);
    }

    private static void AddFailures(List<(string Key, string Reason)> failures, FeatureTable table, string side)
    {
        foreach ((string key, string reason) in table.Failures)
        {
            failures.Add((key, $"{side}: {reason}"));
        }
    }

    private static List<LabelledVector> Vectors(FeatureTable table, List<PlannedObject> items)
        => [.. items.Where(i => table.Vectors.ContainsKey(i.Key)).Select(i => new LabelledVector(table.Vectors[i.Key], i.Label))];
}
