using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PosCuda.Coordinator.Datasets;
using PosCuda.Coordinator.Quality;
using PosCuda.Shared.Labels;
using PosCuda.Shared.Storage;
using PosCuda.Worker.Hosting;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda quality SRC DST</c>: how much protection changed the audio, per class and overall.</summary>
public static class QualityCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var source = new Argument<string>("SRC") { Description = "The clean dataset: a folder or s3://bucket/prefix." };
        var destination = new Argument<string>("DST") { Description = "Its protected copy (same relative keys)." };
        var report = new Option<string?>("--report") { Description = "Write the JSON report to this file." };
        var plots = new Option<string?>("--plots") { Description = "Write PNG plots (SNR distributions, a spectrogram pair per class for up to 20 classes) into this folder." };
        var rate = new Option<int?>("--rate") { Description = "Log-mel analysis rate in Hz (default: the rate of the first clean clip in key order)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Clips in flight (default: cores; 8 x cores for S3)." }.AtLeast(0);
        var command = new Command("quality", "Measure how much protection changed the audio: SNR, segmental SNR, log-spectral distance, clipping, silent patches, log-mel Fréchet distance.")
        {
            source, destination, common.Labels, report, plots, rate, concurrency,
        };
        common.AddStores(command);
        command.SetAction((result, ct) => RunAsync(
            new Request(
                result.GetRequiredValue(source),
                result.GetRequiredValue(destination),
                result.GetRequiredValue(common.Labels),
                common.ReadStoreOptions(result),
                result.GetValue(report),
                result.GetValue(plots),
                result.GetValue(rate),
                result.GetValue(concurrency)),
            ct));
        return command;
    }

    /// <summary>What <c>quality</c> was asked to do.</summary>
    public sealed record Request(
        string Source, string Destination, string LabelRule, ObjectStoreOptions StoreOptions, string? ReportPath, string? PlotFolder, int? AnalysisRate, int Concurrency);

    /// <summary>Runs the comparison and returns the exit code: 0, or 3 when some clips could not be compared.</summary>
    public static async Task<int> RunAsync(Request request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var clock = Stopwatch.StartNew();
        LabelRule labels = Locations.ParseLabels(request.LabelRule);
        string source = Locations.Normalise(request.Source);
        string destination = Locations.Normalise(request.Destination);
        if (request.AnalysisRate is <= 0)
        {
            throw new UsageException("--rate must be > 0.");
        }

        await using var stores = new ObjectStoreCache(request.StoreOptions);
        IObjectStore clean = stores.Get(source);
        IObjectStore protectedStore = stores.Get(destination);
        DatasetListing listing = await DatasetListing.ReadAsync(clean, labels, cancellationToken).ConfigureAwait(false);
        int concurrency = request.Concurrency > 0 ? request.Concurrency : DefaultConcurrency(source, destination);
        var settings = new QualitySettings();
        int examples = request.PlotFolder is null ? 0 : QualityPlots.MaxSpectrogramClasses;
        QualityAnalysis.Outcome outcome = await new QualityAnalysis(settings)
            .RunAsync(listing, clean, protectedStore, request.AnalysisRate, examples, concurrency, cancellationToken)
            .ConfigureAwait(false);

        QualityReport.WriteTable(Console.Out, outcome);
        foreach ((string key, string reason) in outcome.Failures)
        {
            await Console.Error.WriteLineAsync($"failed: {key}: {reason}").ConfigureAwait(false);
        }

        if (request.ReportPath is not null)
        {
            await ReportFile.WriteAsync(
                request.ReportPath,
                json => QualityReport.WriteJson(json, outcome, settings, source, destination, labels.Text, clock.Elapsed),
                cancellationToken).ConfigureAwait(false);
        }

        if (request.PlotFolder is not null)
        {
            IReadOnlyList<string> files = QualityPlots.Write(request.PlotFolder, outcome);
            await Console.Error.WriteLineAsync($"Wrote {files.Count} plots to {Path.GetFullPath(request.PlotFolder)}.").ConfigureAwait(false);
        }

        QualityTally all = outcome.Overall;
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"poscuda quality: {all.Clips} clips compared ({all.Unchanged} unchanged), {outcome.Failures.Count} failed, {listing.Skipped} skipped; SNR {all.Snr.Mean:F1} dB, segmental SNR over the patch {all.SegmentalSnrPatch.Mean:F1} dB, {all.SilentPatchFraction * 100:F1}% silent patches, {all.NewlyClipped} clipped samples, log-mel Fréchet distance {all.LogMelFrechet():F3}; {clock.Elapsed.TotalSeconds:F1} s"));
        return outcome.Failures.Count > 0 ? ExitCodes.SomeFailed : ExitCodes.Success;
    }

    /// <summary>Clips in flight by default: the cores for folders, eight times as many when a side is in S3.</summary>
    public static int DefaultConcurrency(string source, string destination)
        => Environment.ProcessorCount * (source.StartsWith("s3://", StringComparison.Ordinal) || destination.StartsWith("s3://", StringComparison.Ordinal) ? 8 : 1);
}
