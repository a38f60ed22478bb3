using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PosCuda.Coordinator.Audit;
using PosCuda.Coordinator.Datasets;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda audit PROTECTED --clean CLEAN</c>: does a model trained on the protected copy still learn the real task?</summary>
public static class AuditCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var protectedArgument = new Argument<string>("PROTECTED") { Description = "The protected dataset: a folder or s3://bucket/prefix." };
        var clean = new Option<string>("--clean") { Description = "The clean dataset (same relative keys).", Required = true };
        var split = new Option<string?>("--split")
        {
            Description = "Train/test split: 'fsdd' (index 0-4 is test), 'csv:PATH' (columns key,split), 'random:SEED[:FRACTION][:by=REGEX]' (default: fsdd if every name matches, else random:1:0.2).",
        };
        var learners = new Option<string>("--learners") { Description = "Probe learners, comma-separated: lightgbm, maxent.", DefaultValueFactory = _ => "lightgbm,maxent" };
        var attacks = new Option<string>("--attacks")
        {
            Description = "Attacks on the training clips, comma-separated: none, shift, crop, trim, resample, eq, noise, mp3.",
            DefaultValueFactory = _ => string.Join(',', AudioAttack.Names),
        };
        var seed = new Option<int>("--seed") { Description = "Seeds the attacks and the learners.", DefaultValueFactory = _ => 1 };
        var report = new Option<string?>("--report") { Description = "Write the JSON report to this file." };
        var cache = new Option<string?>("--cache") { Description = "Feature cache folder (default: PROTECTED.poscuda-state/audit-features beside a local PROTECTED, else ./.poscuda-state/<hash>/audit-features)." };
        var noCache = new Option<bool>("--no-cache") { Description = "Compute every feature; read and write no cache." };
        var rate = new Option<int?>("--rate") { Description = "Feature analysis rate in Hz (default: the rate of the first clean clip in key order)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Clips in flight (default: cores; 8 x cores for S3)." }.AtLeast(0);
        var command = new Command("audit", "Train probe learners on the protected copy and test them on clean audio, under attacks an adversary would try.")
        {
            protectedArgument, clean, common.Labels, split, learners, attacks, seed, report, cache, noCache, rate, concurrency,
        };
        common.AddStores(command);
        command.SetAction((result, ct) => RunAsync(
            new Request(
                result.GetRequiredValue(protectedArgument),
                result.GetRequiredValue(clean),
                result.GetRequiredValue(common.Labels),
                result.GetValue(split),
                result.GetValue(learners) ?? "",
                result.GetValue(attacks) ?? "",
                result.GetValue(seed),
                common.ReadStoreOptions(result),
                result.GetValue(report),
                result.GetValue(noCache) ? null : result.GetValue(cache) ?? "",
                result.GetValue(rate),
                result.GetValue(concurrency)),
            ct));
        return command;
    }

    /// <summary>What <c>audit</c> was asked to do.</summary>
    /// <param name="CacheFolder">The cache folder; "" for the default, null for no cache.</param>
    public sealed record Request(
        string Protected, string Clean, string LabelRule, string? SplitRule, string Learners, string Attacks, int Seed,
        ObjectStoreOptions StoreOptions, string? ReportPath, string? CacheFolder, int? AnalysisRate, int Concurrency);

    /// <summary>Runs the audit, prints the table and the verdict, and returns 0.</summary>
    public static async Task<int> RunAsync(Request request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        LabelRule labels = Locations.ParseLabels(request.LabelRule);
        string protectedLocation = Locations.Normalise(request.Protected);
        string cleanLocation = Locations.Normalise(request.Clean);
        SplitRule? split = request.SplitRule is null ? null : Parse(() => SplitRule.Parse(request.SplitRule));
        List<ProbeLearner> learners = [.. Names(request.Learners, "--learners").Select(n => Parse(() => ProbeLearner.Parse(n)))];
        List<string> attacks = Names(request.Attacks, "--attacks");
        foreach (string attack in attacks)
        {
            Parse(() => AudioAttack.Parse(attack));
        }

        if (request.AnalysisRate is <= 0)
        {
            throw new UsageException("--rate must be > 0.");
        }

        string? cacheFolder = request.CacheFolder switch
        {
            null => null,
            "" => Path.Combine(Locations.DefaultStatePath(protectedLocation), "audit-features"),
            string folder => Path.GetFullPath(folder),
        };

        await using var stores = new ObjectStoreCache(request.StoreOptions);
        IObjectStore protectedStore = stores.Get(protectedLocation);
        IObjectStore cleanStore = stores.Get(cleanLocation);
        DatasetListing protectedListing = await DatasetListing.ReadAsync(protectedStore, labels, cancellationToken).ConfigureAwait(false);
        DatasetListing cleanListing = await DatasetListing.ReadAsync(cleanStore, labels, cancellationToken).ConfigureAwait(false);
        int concurrency = request.Concurrency > 0 ? request.Concurrency : QualityCommand.DefaultConcurrency(cleanLocation, protectedLocation);
        var settings = new AuditRunner.Settings(
            protectedStore, cleanStore, protectedListing, cleanListing, split, learners, attacks, request.Seed, cacheFolder, request.AnalysisRate, concurrency);
        AuditOutcome outcome = await new AuditRunner(Console.Error).RunAsync(settings, cancellationToken).ConfigureAwait(false);

        foreach ((string key, string reason) in outcome.Failures)
        {
            await Console.Error.WriteLineAsync($"left out: {key}: {reason}").ConfigureAwait(false);
        }

        AuditReport.WriteTable(Console.Out, outcome);
        if (request.ReportPath is not null)
        {
            await ReportFile.WriteAsync(
                request.ReportPath,
                json => AuditReport.WriteJson(json, outcome, protectedLocation, cleanLocation, labels.Text, learners.Select(l => $"{l.Name}: {l.Description}"), clock.Elapsed.TotalSeconds),
                cancellationToken).ConfigureAwait(false);
        }

        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"elapsed: {clock.Elapsed.TotalSeconds:F1} s (features {outcome.FeatureSeconds:F1} s: {outcome.ComputedTables} tables computed, {outcome.CachedTables} from the cache; training {outcome.TrainingSeconds:F1} s); {outcome.Failures.Count} objects left out"));
        Console.Out.WriteLine(AuditReport.Verdict(outcome));
        return ExitCodes.Success;
    }

    private static List<string> Names(string list, string option)
    {
        List<string> names = [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];
        return names.Count == 0 ? throw new UsageException($"{option} names none.") : names;
    }

    private static T Parse<T>(Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, e);
        }
    }
}
