using System.Collections.Concurrent;
using PosCuda.Coordinator.Datasets;
using PosCuda.Shared;
using PosCuda.Shared.Analysis;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Storage;

namespace PosCuda.Coordinator.Quality;

/// <summary>Compares every clean clip of a dataset with its protected counterpart, streaming, and tallies the figures
/// per class and overall.</summary>
/// <remarks>
/// Memory holds the key listing, a few clips per worker in flight, one <see cref="QualityTally"/> per class and, for
/// plots, the first clip (in key order) of each of up to <c>maxExamples</c> classes; never a list of frames.
/// A protected counterpart that is missing or unreadable is a failure with its key and reason, not an error.
/// </remarks>
public sealed class QualityAnalysis
{
    private readonly QualitySettings _settings;
    private readonly object _gate = new();

    /// <summary>Creates an analysis with the given choices.</summary>
    public QualityAnalysis(QualitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
    }

    /// <summary>The outcome: tallies, failures and example clips for plots.</summary>
    /// <param name="AnalysisRate">The rate log-mel spectra were computed at.</param>
    /// <param name="Overall">Every clip.</param>
    /// <param name="Classes">Per class, in ordinal label order.</param>
    /// <param name="Failures">Keys that could not be compared, with the reason.</param>
    /// <param name="Examples">Per class, the comparison of its first clip in key order (for up to <c>maxExamples</c> classes).</param>
    public sealed record Outcome(
        int AnalysisRate,
        QualityTally Overall,
        IReadOnlyDictionary<string, QualityTally> Classes,
        IReadOnlyList<(string Key, string Reason)> Failures,
        IReadOnlyDictionary<string, ClipComparer.Result> Examples,
        StreamingStatistic PatchSnrPerClip);

    /// <summary>Runs the comparison over <paramref name="listing"/>.</summary>
    /// <param name="listing">The clean objects and their labels.</param>
    /// <param name="clean">The clean store.</param>
    /// <param name="protectedStore">The protected store (same relative keys).</param>
    /// <param name="analysisRate">The log-mel analysis rate; null for the rate of the first clean clip in key order.</param>
    /// <param name="maxExamples">Classes to keep an example clip of (0 for none).</param>
    /// <param name="concurrency">Clips in flight.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public async Task<Outcome> RunAsync(
        DatasetListing listing, IObjectStore clean, IObjectStore protectedStore, int? analysisRate, int maxExamples, int concurrency,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listing);
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(protectedStore);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        var failures = new ConcurrentBag<(string Key, string Reason)>();
        foreach ((string key, string reason) in listing.Unlabelled)
        {
            failures.Add((key, "no label: " + reason));
        }

        int rate = analysisRate ?? await FirstRateAsync(listing, clean, cancellationToken).ConfigureAwait(false);
        var logMel = new LogMelSettings(rate);
        var overall = new QualityTally(logMel.Bands);
        var classes = new SortedDictionary<string, QualityTally>(StringComparer.Ordinal);
        var examples = new Dictionary<string, ClipComparer.Result>(StringComparer.Ordinal);
        var patchSnr = new StreamingStatistic();
        IReadOnlyList<string> labels = listing.Labels();
        var plotted = new HashSet<string>(labels.Take(maxExamples), StringComparer.Ordinal);
        foreach (string label in labels)
        {
            classes[label] = new QualityTally(logMel.Bands);
        }

        var comparers = new ConcurrentBag<ClipComparer>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(listing.Objects, options, async (item, ct) =>
        {
            ClipComparer comparer = comparers.TryTake(out ClipComparer? pooled) ? pooled : new ClipComparer(_settings, logMel);
            try
            {
                ClipComparer.Result? result = await CompareAsync(item, clean, protectedStore, comparer, failures, ct).ConfigureAwait(false);
                if (result is null)
                {
                    return;
                }

                lock (_gate)
                {
                    overall.Add(result);
                    classes[item.Label].Add(result);
                    if (result.Comparison.Changed)
                    {
                        patchSnr.Add(result.Comparison.SegmentalSnrPatchDb);
                    }

                    if (plotted.Contains(item.Label)
                        && (!examples.TryGetValue(item.Label, out ClipComparer.Result? kept) || string.CompareOrdinal(item.Key, kept.Comparison.Key) < 0))
                    {
                        examples[item.Label] = result;
                    }
                }
            }
            finally
            {
                comparers.Add(comparer);
            }
        }).ConfigureAwait(false);

        var sortedFailures = failures.ToList();
        sortedFailures.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new Outcome(rate, overall, classes, sortedFailures, examples, patchSnr);
    }

    private static async Task<ClipComparer.Result?> CompareAsync(
        PlannedObject item, IObjectStore clean, IObjectStore protectedStore, ClipComparer comparer,
        ConcurrentBag<(string Key, string Reason)> failures, CancellationToken cancellationToken)
    {
        DecodedClip cleanClip;
        try
        {
            using ObjectContent content = await clean.GetAsync(item.Key, cancellationToken).ConfigureAwait(false);
            cleanClip = DecodedClip.Decode(content.Data.Span, item.Key);
        }
        catch (InvalidObjectException e)
        {
            failures.Add((item.Key, "clean: " + e.Reason));
            return null;
        }

        DecodedClip protectedClip;
        try
        {
            using ObjectContent content = await protectedStore.GetAsync(item.Key, cancellationToken).ConfigureAwait(false);
            protectedClip = DecodedClip.Decode(content.Data.Span, item.Key);
        }
        catch (InvalidObjectException e)
        {
            failures.Add((item.Key, "protected: " + e.Reason));
            return null;
        }

        return comparer.Compare(item.Key, item.Label, cleanClip, protectedClip);
    }

    /// <summary>The sample rate of the first readable clip of <paramref name="listing"/> in key order (16 kHz if none).</summary>
    public static async Task<int> FirstRateAsync(DatasetListing listing, IObjectStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listing);
        ArgumentNullException.ThrowIfNull(store);
        foreach (PlannedObject item in listing.Objects)
        {
            try
            {
                using ObjectContent content = await store.GetAsync(item.Key, cancellationToken).ConfigureAwait(false);
                return Shared.Audio.WavReader.ReadLayout(content.Data.Span, item.Key).SampleRate;
            }
            catch (InvalidObjectException)
            {
                // Unreadable: the comparison reports it; try the next.
            }
        }

        return 16000;
    }
}
