using System.Text;
using System.Text.Json;
using PosCuda.Coordinator.Cli;
using PosCuda.Pipeline.Tests.Protect;
using PosCuda.Shared.Protection;
using PosCuda.Testing;
using PosCuda.Testing.Processes;
using PosCuda.Testing.Telemetry;

using PosCuda.Shared.Telemetry;

namespace PosCuda.Pipeline.Tests.Telemetry;

/// <summary>A real <c>poscuda protect</c> child process exporting OTLP to a loopback receiver.</summary>
/// <remarks>Each test runs its own child process with its own environment, so these need no process-wide telemetry state.</remarks>
public sealed class TelemetryEndToEndTests : IClassFixture<ProtectFixture>
{
    private const string Plan = "poscuda.plan";
    private const string Batch = "poscuda.batch";
    private const string BatchComplete = "poscuda.batch.complete";
    private const string ObjectSpan = "poscuda.object";
    private const string ObjectsProcessed = "poscuda.objects.processed";
    private const string Outcome = "poscuda.outcome";

    // Long enough that nothing is exported before the process exits: only the flush at exit can deliver.
    private const string Never = "600000";

    private static readonly TimeSpan s_arrival = TimeSpan.FromSeconds(15);

    private readonly ProtectFixture _fixture;

    public TelemetryEndToEndTests(ProtectFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task Protect_ChildProcessExportingOverOtlp_SendsOneTraceAndFinalMetricsAtExit()
    {
        using var temp = new TempDirectory();
        string dst = temp["out"];
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        var environment = new Dictionary<string, string>(receiver.EnvironmentVariables)
        {
            ["OTEL_METRIC_EXPORT_INTERVAL"] = Never,
            ["OTEL_BSP_SCHEDULE_DELAY"] = Never,
        };

        ChildProcessResult run = await PoscudaTool.RunAsync(
            ["protect", RepositoryPaths.Sample, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--quiet"], environment);

        Assert.True(run.ExitCode == ExitCodes.Success, run.ToString());
        await receiver.WaitUntilAsync(
            r => r.LatestTotal(ObjectsProcessed) >= 100 && r.Spans.Count(s => s.Name == ObjectSpan) >= 100, s_arrival);
        IReadOnlyList<OtlpSpan> spans = receiver.Spans;

        // One trace: the planning span is its root, every batch, completion and object span hangs under it.
        OtlpSpan plan = Assert.Single(spans, s => s.Name == Plan);
        Assert.Null(plan.ParentSpanId);
        Assert.Equal(100L, plan.Attributes["poscuda.plan.objects"]);
        Assert.Equal("poscuda-protect", plan.Resource["service.name"]);
        Assert.Equal("protect", plan.Resource["poscuda.role"]);
        Dictionary<string, OtlpSpan> byId = spans.ToDictionary(s => s.SpanId, StringComparer.Ordinal);
        List<OtlpSpan> objects = spans.Where(s => s.Name == ObjectSpan).ToList();
        List<OtlpSpan> batches = spans.Where(s => s.Name == Batch).ToList();
        Assert.Equal(100, objects.Count);
        Assert.Equal(100, objects.Select(s => (string)s.Attributes["poscuda.object.key"]!).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(10, batches.Count); // one class per batch, ten clips per class
        Assert.All(spans, s => Assert.Equal(plan.TraceId, s.TraceId));
        foreach (OtlpSpan span in spans.Where(s => s.Name is ObjectSpan or Batch or BatchComplete))
        {
            Assert.True(ReachesPlan(span, plan, byId), $"{span.Name} {span.SpanId} does not descend from the plan span");
        }

        Assert.All(objects, s => Assert.Equal(Batch, byId[s.ParentSpanId!].Name));
        Assert.All(objects, s => Assert.Equal("done", s.Attributes[Outcome]));
        Assert.All(batches, s =>
        {
            // The class shard's claim (carried in the grant) is the batch's parent; the job's trace (carried in the request) is the claim's.
            OtlpSpan claim = byId[s.ParentSpanId!];
            Assert.Equal(SpanNames.Claim, claim.Name);
            Assert.Equal("leased", claim.Attributes[Outcome]);
            Assert.Equal(plan.SpanId, claim.ParentSpanId);
        });
        Assert.Equal(batches.Count, spans.Count(s => s.Name == BatchComplete));

        // Metrics: the final cumulative points arrived although the export interval never elapsed.
        string[] metricNames = ["poscuda.objects.processed", "poscuda.bytes.read", "poscuda.bytes.written", "poscuda.object.duration", "poscuda.batch.duration"];
        HashSet<string> received = receiver.MetricPoints.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        Assert.All(metricNames, name => Assert.Contains(name, received));
        Assert.Equal(100, receiver.LatestTotal(ObjectsProcessed));
        Assert.Equal(100, receiver.LatestTotal(ObjectsProcessed, (Outcome, "done")));
        Assert.Equal(100, receiver.LatestTotal("poscuda.object.duration"));
        Assert.Equal(batches.Count, receiver.LatestTotal("poscuda.batch.duration"));
        long sourceBytes = Directory.GetFiles(RepositoryPaths.Sample, "*.wav").Sum(f => new FileInfo(f).Length);
        long outputBytes = Directory.GetFiles(dst, "*.wav").Sum(f => new FileInfo(f).Length);
        Assert.Equal(sourceBytes, receiver.LatestTotal("poscuda.bytes.read"));
        Assert.Equal(outputBytes, receiver.LatestTotal("poscuda.bytes.written"));
    }

    [Fact]
    public async Task Protect_CorpusWithFailingObject_NoSecretInTelemetryOutputReportManifestOrLedger()
    {
        using var temp = new TempDirectory();
        string src = temp["src"];
        Directory.CreateDirectory(src);
        foreach (string clip in Directory.GetFiles(RepositoryPaths.Sample, "*.wav"))
        {
            File.Copy(clip, Path.Combine(src, Path.GetFileName(clip)));
        }

        await File.WriteAllBytesAsync(Path.Combine(src, "3_garbage_0.wav"), "RIFF but not audio at all, just text"u8.ToArray());
        string dst = temp["out"];
        string report = temp["report.json"];
        await using OtlpReceiver receiver = OtlpReceiver.Start();

        // No --quiet: the progress lines on stderr are searched too.
        ChildProcessResult run = await PoscudaTool.RunAsync(
            ["protect", src, dst, "--keyring", _fixture.KeyringPath, "--labels", ProtectFixture.DigitLabels, "--report", report], receiver.EnvironmentVariables);

        Assert.True(run.ExitCode == ExitCodes.SomeFailed, run.ToString());
        Assert.Contains("3_garbage_0.wav", run.StandardError, StringComparison.Ordinal);
        await receiver.WaitUntilAsync(r => r.LatestTotal(ObjectsProcessed) >= 101 && r.Spans.Any(s => s.Name == Plan), s_arrival);
        Assert.Equal(100, receiver.LatestTotal(ObjectsProcessed, (Outcome, "done")));
        Assert.Equal(1, receiver.LatestTotal(ObjectsProcessed, (Outcome, "failed")));
        OtlpSpan failed = Assert.Single(receiver.Spans, s => s.Name == ObjectSpan && Equals(s.Attributes[Outcome], "failed"));
        Assert.Equal("3_garbage_0.wav", failed.Attributes["poscuda.object.key"]);
        Assert.Equal(2, failed.StatusCode);

        List<(string Form, byte[] Bytes)> forms = SecretForms(KeyringFile.Load(_fixture.KeyringPath));
        Assert.True(Found(forms, await File.ReadAllBytesAsync(_fixture.KeyringPath)) is not null, "the search does not find the secret in the keyring file itself");
        AssertNoSecret(forms, "stdout", Encoding.UTF8.GetBytes(run.StandardOutput));
        AssertNoSecret(forms, "stderr", Encoding.UTF8.GetBytes(run.StandardError));
        AssertNoSecret(forms, "the report", await File.ReadAllBytesAsync(report));
        string[] manifests = Directory.GetFiles(Path.Combine(dst, ".poscuda", "manifests"), "*.json");
        Assert.Single(manifests);
        using (JsonDocument manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(manifests[0])))
        {
            Assert.Equal(_fixture.Keyring.KeyId, manifest.RootElement.GetProperty("keyId").GetString());
        }

        AssertNoSecret(forms, "the manifest", await File.ReadAllBytesAsync(manifests[0]));
        string[] state = Directory.GetFiles(dst + ".poscuda-state");
        Assert.Contains(state, f => Path.GetFileName(f) == "ledger.db");
        foreach (string file in state)
        {
            AssertNoSecret(forms, "state file " + Path.GetFileName(file), await File.ReadAllBytesAsync(file));
        }

        Assert.NotEmpty(receiver.Requests);
        foreach ((string form, byte[] bytes) in forms)
        {
            Assert.False(receiver.ContainsBytes(bytes), $"the secret ({form}) is in an OTLP payload");
        }
    }

    [Fact]
    public async Task Protect_KeyringReadableByOthers_RefusedWithoutSecretInOutputOrTelemetry()
    {
        using var temp = new TempDirectory();
        string keyring = temp["open-keyring.json"];
        File.Copy(_fixture.KeyringPath, keyring);
        File.SetUnixFileMode(keyring, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead); // 0644
        await using OtlpReceiver receiver = OtlpReceiver.Start();

        ChildProcessResult run = await PoscudaTool.RunAsync(
            ["protect", RepositoryPaths.Sample, temp["out"], "--keyring", keyring, "--labels", ProtectFixture.DigitLabels, "--quiet"],
            receiver.EnvironmentVariables);

        Assert.True(run.ExitCode == ExitCodes.Error, run.ToString());
        Assert.Contains("open-keyring.json", run.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp["out"]));
        List<(string Form, byte[] Bytes)> forms = SecretForms(KeyringFile.Load(_fixture.KeyringPath));
        AssertNoSecret(forms, "stderr", Encoding.UTF8.GetBytes(run.StandardError));
        AssertNoSecret(forms, "stdout", Encoding.UTF8.GetBytes(run.StandardOutput));
        foreach ((string form, byte[] bytes) in forms)
        {
            Assert.False(receiver.ContainsBytes(bytes), $"the secret ({form}) is in an OTLP payload");
        }
    }

    private static bool ReachesPlan(OtlpSpan span, OtlpSpan plan, Dictionary<string, OtlpSpan> byId)
    {
        OtlpSpan current = span;
        for (int depth = 0; depth < 16; depth++)
        {
            if (current.SpanId == plan.SpanId)
            {
                return true;
            }

            if (current.ParentSpanId is not string parent || !byId.TryGetValue(parent, out OtlpSpan? next))
            {
                return false;
            }

            current = next;
        }

        return false;
    }

    // Every way a secret could be spelled in text or bytes: raw, base64 (also JSON-escaped), base64url, hex.
    private static List<(string Form, byte[] Bytes)> SecretForms(Keyring keyring)
    {
        var forms = new List<(string, byte[])>();
        foreach (KeyVersion version in keyring.Versions)
        {
            byte[] secret = version.Secret.ToArray();

            // Without the padding, so padded and unpadded spellings both match.
            string base64 = Convert.ToBase64String(secret).TrimEnd('=');
            string base64Url = base64.Replace('+', '-').Replace('/', '_');
            forms.Add(($"v{version.Version} raw bytes", secret));
            forms.Add(($"v{version.Version} base64", Encoding.UTF8.GetBytes(base64)));
            forms.Add(($"v{version.Version} base64, JSON-escaped", Encoding.UTF8.GetBytes(JsonEncodedText.Encode(base64).ToString())));
            forms.Add(($"v{version.Version} base64url", Encoding.UTF8.GetBytes(base64Url)));
            forms.Add(($"v{version.Version} lower hex", Encoding.UTF8.GetBytes(Convert.ToHexStringLower(secret))));
            forms.Add(($"v{version.Version} upper hex", Encoding.UTF8.GetBytes(Convert.ToHexString(secret))));
        }

        return forms;
    }

    private static string? Found(List<(string Form, byte[] Bytes)> forms, byte[] haystack)
    {
        foreach ((string form, byte[] bytes) in forms)
        {
            if (haystack.AsSpan().IndexOf(bytes) >= 0)
            {
                return form;
            }
        }

        return null;
    }

    private static void AssertNoSecret(List<(string Form, byte[] Bytes)> forms, string where, byte[] haystack)
    {
        string? form = Found(forms, haystack);
        Assert.True(form is null, $"the secret ({form}) is in {where}");
    }
}
