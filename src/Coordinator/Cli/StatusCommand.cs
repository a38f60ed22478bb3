using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PosCuda.Shared.Ledger;

namespace PosCuda.Coordinator.Cli;

/// <summary><c>poscuda status [JOB] --ledger URI</c>: per-class progress, rate, ETA, retries, dead letters and failures.</summary>
public static class StatusCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CommonOptions common)
    {
        var job = new Argument<Guid?>("JOB") { Description = "The job (default: list jobs).", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("status", "Show a job's progress (or list jobs).") { job, common.Ledger, json };
        command.SetAction(async (result, ct) =>
        {
            await using IWorkLedger ledger = WorkLedger.Open(common.ReadLedger(result));
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
    public sealed record Totals(long Objects, long Done, long Failed, long Dead, int Retries, double ObjectsPerSecond, double MegabytesPerSecond, TimeSpan? Eta);

    /// <summary>Totals a job's per-class status and its last-minute throughput.</summary>
    public static Totals Summarise(JobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        long objects = 0, done = 0, failed = 0, dead = 0;
        int retries = 0;
        foreach (ClassStatus c in status.Classes)
        {
            objects += c.Objects;
            done += c.Done;
            failed += c.Failed;
            dead += c.Dead;
            retries += c.Retries;
        }

        double rate = status.ObjectsLastMinute / 60.0;
        double mbps = status.BytesLastMinute / 60.0 / 1e6;
        long left = objects - done - failed - dead;
        TimeSpan? eta = left == 0 ? TimeSpan.Zero : rate > 0 ? TimeSpan.FromSeconds(left / rate) : null;
        return new Totals(objects, done, failed, dead, retries, rate, mbps, eta);
    }

    /// <summary>The human-readable status.</summary>
    public static string Format(JobStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        Totals t = Summarise(status);
        var text = new System.Text.StringBuilder();
        CultureInfo inv = CultureInfo.InvariantCulture;
        JobDefinition d = status.Job.Definition;
        text.AppendLine(inv, $"job {status.Job.JobId:D}: {status.Job.State.ToString().ToLowerInvariant()}");
        text.AppendLine(inv, $"  {d.Source} -> {d.Destination}, labels {d.LabelRule}, {d.Parameters.Spec}, key {d.KeyId} v{d.KeyVersion}");
        double percent = t.Objects == 0 ? 100 : 100.0 * (t.Done + t.Failed + t.Dead) / t.Objects;
        text.AppendLine(inv, $"  {t.Done + t.Failed + t.Dead}/{t.Objects} objects ({percent:F1}%): {t.Done} protected, {t.Failed} failed, {t.Dead} dead");
        text.AppendLine(inv, $"  throughput (last minute): {t.ObjectsPerSecond:F1} objects/s, {t.MegabytesPerSecond:F2} MB/s; ETA {(t.Eta is TimeSpan eta ? eta.ToString(@"hh\:mm\:ss", inv) : "unknown")}; retries {t.Retries}");
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

    private static void WriteJson(Utf8JsonWriter json, JobStatus status)
    {
        Totals t = Summarise(status);
        json.WriteStartObject();
        json.WriteString("jobId", status.Job.JobId.ToString("D"));
        json.WriteString("state", status.Job.State.ToString().ToLowerInvariant());
        json.WriteString("keyId", status.Job.Definition.KeyId);
        json.WriteNumber("keyVersion", status.Job.Definition.KeyVersion);
        json.WriteNumber("objects", t.Objects);
        json.WriteNumber("done", t.Done);
        json.WriteNumber("failed", t.Failed);
        json.WriteNumber("dead", t.Dead);
        json.WriteNumber("retries", t.Retries);
        json.WriteNumber("objectsPerSecond", Math.Round(t.ObjectsPerSecond, 3));
        json.WriteNumber("megabytesPerSecond", Math.Round(t.MegabytesPerSecond, 3));
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
