using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PosCuda.Shared.Ledger;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda status [JOB] --ledger URI</c>: per-class progress, rate, ETA, retries, dead letters and failures.</summary>
public static class StatusCommand
{
    // The ledger counts objects finished in the last 60 s (JobStatus.ObjectsLastMinute).
    private static readonly TimeSpan s_throughputWindow = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_minimumWindow = TimeSpan.FromSeconds(1);

    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var job = new Argument<Guid?>("JOB") { Description = "The job (default: list jobs).", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("status", "Show a job's progress (or list jobs).") { job, common.Ledger, json };
        command.SetAction(async (result, ct) =>
        {
            string location = common.ReadLedger(result);
            await using IWorkLedger ledger = WorkLedger.Open(location);

            // Migrating would create an empty SQLite file at a mistyped path and list nothing: say so instead.
            if (WorkLedger.SqlitePath(location) is string path && !File.Exists(path))
            {
                throw new UsageException($"No SQLite ledger at {path} (poscuda protect keeps it in DST.poscuda-state/ledger.db).");
            }

            await ledger.MigrateAsync(ct).ConfigureAwait(false);
            Guid? jobId = result.GetValue(job);
            if (jobId is null)
            {
                IReadOnlyList<JobRecord> jobs = await ledger.ListJobsAsync(ct).ConfigureAwait(false);
                foreach (JobRecord record in jobs)
                {
                    Console.Out.WriteLine($"{record.JobId:D}  {record.State.ToString().ToLowerInvariant(),-9} {record.CreatedAt:u}  {record.Definition.Source} -> {record.Definition.Destination} (key {record.Definition.KeyId} v{record.Definition.KeyVersion})");
                }

                return ExitCodes.Success;
            }

            JobStatus? status = await ledger.GetJobStatusAsync(jobId.Value, ct).ConfigureAwait(false);
            if (status is null)
            {
                throw new UsageException($"No job {jobId} in the ledger.");
            }

            if (result.GetValue(json))
            {
                using Stream stdout = Console.OpenStandardOutput();
                await using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
                WriteJson(writer, status);
                await writer.FlushAsync(ct).ConfigureAwait(false);
                Console.Out.WriteLine();
            }
            else
            {
                Console.Out.Write(Format(status));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The progress numbers of a job, derived from its status.</summary>
    /// <param name="Objects">Objects planned.</param>
    /// <param name="Done">Objects protected.</param>
    /// <param name="Failed">Objects failed as bad input.</param>
    /// <param name="Dead">Objects in dead-lettered batches.</param>
    /// <param name="Retries">Batch attempts beyond the first.</param>
    /// <param name="ObjectsPerSecond">Objects finished per second over <paramref name="Window"/>.</param>
    /// <param name="MegabytesPerSecond">Megabytes written per second over <paramref name="Window"/>.</param>
    /// <param name="Eta">Time left at that rate; zero when finished, null when nothing moves.</param>
    /// <param name="Window">The part of the last minute the job existed and ran (1 to 60 s) that the rates are over.</param>
    public sealed record Totals(
        long Objects, long Done, long Failed, long Dead, int Retries, double ObjectsPerSecond, double MegabytesPerSecond, TimeSpan? Eta, TimeSpan Window);

    /// <summary>Totals a job's per-class status and its last-minute throughput, as of now.</summary>
    public static Totals Summarise(JobStatus status) => Summarise(status, DateTimeOffset.UtcNow);

    /// <summary>Totals a job's per-class status and its last-minute throughput, as of <paramref name="now"/>.</summary>
    /// <remarks>
    /// The ledger counts what finished in the last 60 s; a job younger than that, or one that finished within it, only ran
    /// for part of the minute, so the rate is over that part (a 3 s job of 3000 clips is 1000 objects/s, not 50).
    /// </remarks>
    public static Totals Summarise(JobStatus status, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(status);
        JobTotals totals = status.Totals;
        TimeSpan window = ThroughputWindow(status.Job, now);
        double rate = status.ObjectsLastMinute / window.TotalSeconds;
        double mbps = status.BytesLastMinute / window.TotalSeconds / 1e6;
        long left = totals.Objects - totals.Finished;
        TimeSpan? eta = left == 0 ? TimeSpan.Zero : rate > 0 ? TimeSpan.FromSeconds(left / rate) : null;
        return new Totals(totals.Objects, totals.Done, totals.Failed, totals.Dead, totals.Retries, rate, mbps, eta, window);
    }

    // What the job does, in words: a rekey names the version it replaces, a protect says whether it keeps restore records.
    private static string Operation(JobDefinition definition) => definition.Operation switch
    {
        { Kind: JobKind.Rekey } rekey => string.Create(
            CultureInfo.InvariantCulture, $"rekey of key version {rekey.FromVersion} to {definition.KeyVersion} in place"),
        { Kind: JobKind.Restore } => "restore of originals from restore records",
        { VaultKeyId: not null } => "protect, writing restore records",
        _ => "protect",
    };

    /// <summary>An ETA as <c>hh:mm:ss</c>, with the hours running past 24 (a day-long ETA is <c>30:00:00</c>, not <c>06:00:00</c>).</summary>
    public static string FormatEta(TimeSpan eta) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)eta.TotalHours:D2}:{eta.Minutes:D2}:{eta.Seconds:D2}");

    /// <summary>The human-readable status, as of now.</summary>
    public static string Format(JobStatus status) => Format(status, DateTimeOffset.UtcNow);

    /// <summary>The human-readable status, as of <paramref name="now"/>.</summary>
    public static string Format(JobStatus status, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(status);
        Totals t = Summarise(status, now);
        var text = new System.Text.StringBuilder();
        CultureInfo inv = CultureInfo.InvariantCulture;
        JobDefinition d = status.Job.Definition;
        text.AppendLine(inv, $"job {status.Job.JobId:D}: {status.Job.State.ToString().ToLowerInvariant()}, {Operation(d)}");
        text.AppendLine(inv, $"  {d.Source} -> {d.Destination}, labels {d.LabelRule}, {d.Parameters.Spec}, key {d.KeyId} v{d.KeyVersion}");
        double percent = t.Objects == 0 ? 100 : 100.0 * (t.Done + t.Failed + t.Dead) / t.Objects;
        string done = d.Kind switch { JobKind.Rekey => "re-keyed", JobKind.Restore => "restored", _ => "protected" };
        text.AppendLine(inv, $"  {t.Done + t.Failed + t.Dead}/{t.Objects} objects ({percent:F1}%): {t.Done} {done}, {t.Failed} failed, {t.Dead} dead");
        string window = t.Window >= s_throughputWindow ? "last minute" : string.Create(inv, $"last {t.Window.TotalSeconds:F0} s");
        text.AppendLine(inv, $"  throughput ({window}): {t.ObjectsPerSecond:F1} objects/s, {t.MegabytesPerSecond:F2} MB/s; ETA {(t.Eta is TimeSpan eta ? FormatEta(eta) : "unknown")}; retries {t.Retries}");
        text.AppendLine(inv, $"  {"class",-16} {"objects",8} {"done",8} {"failed",7} {"dead",6} {"pending",8} {"leased",7} {"retries",8}");
        foreach (ClassStatus c in status.Classes)
        {
            text.AppendLine(inv, $"  {c.Label,-16} {c.Objects,8} {c.Done,8} {c.Failed,7} {c.Dead,6} {c.PendingBatches,8} {c.LeasedBatches,7} {c.Retries,8}");
        }

        foreach (DeadLetter dead in status.DeadLetters)
        {
            text.AppendLine(inv, $"  dead letter: batch {dead.BatchId} ({dead.Label}) after {dead.Attempts} attempts: {dead.LastError}");
        }

        return text.ToString();
    }

    // The window the ledger's last-minute counts cover, cut to the part of it the job existed and was not finished.
    private static TimeSpan ThroughputWindow(JobRecord job, DateTimeOffset now)
    {
        DateTimeOffset start = now - s_throughputWindow;
        if (job.CreatedAt > start)
        {
            start = job.CreatedAt;
        }

        DateTimeOffset end = job.FinishedAt is DateTimeOffset finished && finished < now ? finished : now;
        TimeSpan window = end - start;

        // At least a second: keeps the rate sane for a job that ran an instant, or a ledger clock a little ahead of ours.
        return window < s_minimumWindow ? s_minimumWindow : window > s_throughputWindow ? s_throughputWindow : window;
    }

    private static void WriteJson(Utf8JsonWriter json, JobStatus status)
    {
        Totals t = Summarise(status);
        json.WriteStartObject();
        json.WriteString("jobId", status.Job.JobId.ToString("D"));
        json.WriteString("state", status.Job.State.ToString().ToLowerInvariant());
        json.WriteString("kind", status.Job.Definition.Kind.ToString().ToLowerInvariant());
        json.WriteString("keyId", status.Job.Definition.KeyId);
        json.WriteNumber("keyVersion", status.Job.Definition.KeyVersion);
        json.WriteNumber("objects", t.Objects);
        json.WriteNumber("done", t.Done);
        json.WriteNumber("failed", t.Failed);
        json.WriteNumber("dead", t.Dead);
        json.WriteNumber("retries", t.Retries);
        json.WriteNumber("objectsPerSecond", Math.Round(t.ObjectsPerSecond, 3));
        json.WriteNumber("megabytesPerSecond", Math.Round(t.MegabytesPerSecond, 3));
        json.WriteNumber("throughputWindowSeconds", Math.Round(t.Window.TotalSeconds, 1));
        if (t.Eta is TimeSpan eta)
        {
            json.WriteNumber("etaSeconds", Math.Round(eta.TotalSeconds, 1));
        }

        json.WriteNumber("clippedSamples", status.ClippedSamples);
        json.WriteNumber("bytesWritten", status.BytesWritten);
        json.WriteStartArray("classes");
        foreach (ClassStatus c in status.Classes)
        {
            json.WriteStartObject();
            json.WriteString("label", c.Label);
            json.WriteNumber("objects", c.Objects);
            json.WriteNumber("done", c.Done);
            json.WriteNumber("failed", c.Failed);
            json.WriteNumber("dead", c.Dead);
            json.WriteNumber("pendingBatches", c.PendingBatches);
            json.WriteNumber("leasedBatches", c.LeasedBatches);
            json.WriteNumber("doneBatches", c.DoneBatches);
            json.WriteNumber("deadBatches", c.DeadBatches);
            json.WriteNumber("retries", c.Retries);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("deadLetters");
        foreach (DeadLetter dead in status.DeadLetters)
        {
            json.WriteStartObject();
            json.WriteNumber("batchId", dead.BatchId);
            json.WriteString("label", dead.Label);
            json.WriteNumber("attempts", dead.Attempts);
            json.WriteString("lastError", dead.LastError);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
