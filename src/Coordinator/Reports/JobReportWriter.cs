using System.Text.Json;
using PosCuda.Shared.Ledger;
using PosCuda.Shared.Protection;

namespace PosCuda.Coordinator.Reports;

/// <summary>Writes the JSON of <c>poscuda protect --report</c> and of job manifests. Never writes a secret.</summary>
public static class JobReportWriter
{
    /// <summary>The format name written first in every report and manifest.</summary>
    public const string ReportFormat = "poscuda-report/1";

    /// <summary>The format name of a manifest.</summary>
    public const string ManifestFormat = "poscuda-manifest/1";

    private static readonly JsonEncodedText s_key = JsonEncodedText.Encode("key");
    private static readonly JsonEncodedText s_label = JsonEncodedText.Encode("label");
    private static readonly JsonEncodedText s_outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText s_reason = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText s_keyVersion = JsonEncodedText.Encode("keyVersion");
    private static readonly JsonEncodedText s_sourceETag = JsonEncodedText.Encode("sourceETag");
    private static readonly JsonEncodedText s_outputETag = JsonEncodedText.Encode("outputETag");
    private static readonly JsonEncodedText s_bytes = JsonEncodedText.Encode("bytes");
    private static readonly JsonEncodedText s_clippedSamples = JsonEncodedText.Encode("clippedSamples");
    private static readonly Dictionary<ObjectOutcome, JsonEncodedText> s_outcomes =
        Enum.GetValues<ObjectOutcome>().ToDictionary(o => o, o => JsonEncodedText.Encode(Name(o)));

    /// <summary>Writes a report: totals, parameters, key id and version, and every failure.</summary>
    public static void WriteReport(Utf8JsonWriter json, JobSummary summary, TimeSpan elapsed, TransferTally? transfer = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(summary);
        json.WriteStartObject();
        json.WriteString("format", ReportFormat);
        WriteJob(json, summary.Job);
        WriteTotals(json, summary, elapsed);
        if (transfer is not null)
        {
            // What this run moved through the process (a resumed job's earlier runs are not in it).
            json.WriteStartObject("transfer");
            json.WriteNumber("objects", transfer.Objects);
            json.WriteNumber("bytesRead", transfer.BytesRead);
            json.WriteNumber("bytesWritten", transfer.BytesWritten);
            json.WriteNumber("maxBytesReadPerObject", transfer.MaxBytesReadPerObject);
            json.WriteNumber("maxBytesWrittenPerObject", transfer.MaxBytesWrittenPerObject);
            json.WriteEndObject();
        }

        json.WriteStartArray("failures");
        foreach (ObjectRecord failure in summary.Failures)
        {
            json.WriteStartObject();
            json.WriteString("object", failure.Key);
            json.WriteString("label", failure.Label);
            json.WriteString("outcome", Name(failure.Outcome));
            json.WriteString("reason", failure.Reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Writes the head of a manifest; the caller then writes objects with <see cref="WriteManifestObject"/> and closes with <see cref="EndManifest"/>.</summary>
    public static void BeginManifest(Utf8JsonWriter json, JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject();
        json.WriteString("format", ManifestFormat);
        WriteJob(json, job);
        json.WriteStartArray("objects");
    }

    /// <summary>Writes one object of a manifest.</summary>
    public static void WriteManifestObject(Utf8JsonWriter json, ObjectRecord record)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(record);

        // A manifest holds one of these per object (100,000s): property names are encoded once, not per object.
        json.WriteStartObject();
        json.WriteString(s_key, record.Key);
        json.WriteString(s_label, record.Label);
        json.WriteString(s_outcome, s_outcomes[record.Outcome]);
        if (record.Reason is not null)
        {
            json.WriteString(s_reason, record.Reason);
        }

        if (record.KeyVersion is int version)
        {
            json.WriteNumber(s_keyVersion, version);
        }

        if (record.SourceETag is not null)
        {
            json.WriteString(s_sourceETag, record.SourceETag);
        }

        if (record.OutputETag is not null)
        {
            json.WriteString(s_outputETag, record.OutputETag);
        }

        json.WriteNumber(s_bytes, record.Bytes);
        json.WriteNumber(s_clippedSamples, record.ClippedSamples);
        json.WriteEndObject();
    }

    /// <summary>Closes a manifest with its totals.</summary>
    public static void EndManifest(Utf8JsonWriter json, JobSummary summary)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(summary);
        json.WriteEndArray();
        TimeSpan elapsed = (summary.Job.FinishedAt ?? DateTimeOffset.UtcNow) - summary.Job.CreatedAt;
        WriteTotals(json, summary, elapsed);
        json.WriteEndObject();
    }

    private static void WriteJob(Utf8JsonWriter json, JobRecord job)
    {
        JobDefinition definition = job.Definition;
        ProtectionParameters parameters = definition.Parameters;
        json.WriteString("jobId", job.JobId.ToString("D"));
        json.WriteString("state", job.State.ToString().ToLowerInvariant());
        json.WriteString("source", definition.Source);
        json.WriteString("destination", definition.Destination);
        json.WriteString("labels", definition.LabelRule);
        json.WriteString("keyId", definition.KeyId);
        json.WriteNumber("keyVersion", definition.KeyVersion);
        json.WriteString("operation", (definition.Operation?.Kind ?? JobKind.Protect).ToString().ToLowerInvariant());
        json.WriteStartObject("parameters");
        json.WriteString("spec", parameters.Spec);
        if (parameters.Spec == PoscudaV2.SpecName)
        {
            SpectralCodeParameters code = parameters.Code;
            json.WriteNumber("codeSlots", code.Slots);
            json.WriteNumber("codeWeight", code.Weight);
            json.WriteNumber("codeFmin", code.MinFrequency);
            json.WriteNumber("codeFmax", code.MaxFrequency);
            json.WriteNumber("codeSnr", code.TargetSnr);
            json.WriteNumber("codeDepth", code.Depth);
        }
        else
        {
            json.WriteNumber("taps", parameters.Taps);
            json.WriteNumber("patch", parameters.PatchLength);
            json.WriteNumber("blur", parameters.Blur);
            json.WriteNumber("window", parameters.Window);
            json.WriteString("mode", PatchModeNames.ToName(parameters.Mode));
        }
        json.WriteEndObject();
        json.WriteString("createdAt", job.CreatedAt);
        if (job.FinishedAt is DateTimeOffset finished)
        {
            json.WriteString("finishedAt", finished);
        }
    }

    private static void WriteTotals(Utf8JsonWriter json, JobSummary summary, TimeSpan elapsed)
    {
        json.WriteStartObject("totals");
        json.WriteNumber("protected", summary.Protected);
        json.WriteNumber("failed", summary.Failed);
        json.WriteNumber("skipped", summary.Skipped);
        json.WriteNumber("pending", summary.Pending);
        json.WriteNumber("clippedSamples", summary.ClippedSamples);
        json.WriteNumber("bytes", summary.Bytes);
        json.WriteNumber("elapsedSeconds", Math.Round(elapsed.TotalSeconds, 3));
        json.WriteEndObject();
    }

    private static string Name(ObjectOutcome outcome) => outcome switch
    {
        ObjectOutcome.Done => "protected",
        ObjectOutcome.Failed => "failed",
        ObjectOutcome.Dead => "dead",
        ObjectOutcome.Skipped => "skipped",
        _ => "pending",
    };
}
